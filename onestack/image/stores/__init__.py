"""Image stores: where image bytes live. One store today: the local filesystem ("local")."""
from onestack.image.stores.filesystem import FilesystemStore, Writer  # noqa: F401
