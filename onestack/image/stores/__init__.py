"""Image stores: where image bytes live. "local" (filesystem, stores/filesystem.py) and
"object" (onestack's object service, stores/objectstore.py); [image] enabled_stores picks
which are offered and default_store where new data goes."""
from onestack.image.stores.filesystem import FilesystemStore, Writer  # noqa: F401
from onestack.image.stores.objectstore import ObjectStore, ObjectWriter  # noqa: F401
