"""[image] settings."""
import dataclasses

from onestack import conf


@dataclasses.dataclass
class ImageConf:
    # Filesystem store (default STATE_DIR/images) and staging area (default STATE_DIR/image-staging).
    filesystem_store_datadir: str = ""
    staging_dir: str = ""
    # Largest image accepted (upstream image_size_cap: 1 TiB).
    image_size_cap: int = 1099511627776
    # Per-project limits (upstream unified-limit names); used when identity has no limit set.
    # -1 = unlimited.
    image_count_total: int = -1
    image_size_total: int = -1          # MiB, as upstream
    image_stage_total: int = -1         # MiB
    image_count_uploading: int = -1
    user_storage_quota: int = 0         # bytes, legacy global per-owner cap; 0 = unlimited
    image_member_quota: int = 128
    image_property_quota: int = 128
    image_tag_quota: int = 128
    image_location_quota: int = 10
    # Interoperable import.
    enabled_import_methods: str = "glance-direct,web-download,copy-image"
    web_download_enabled: bool = False
    # Comma-separated host[:port] list web-download may fetch from (exact match).
    web_download_allowed_hosts: str = ""
    # Register a tiny public raw image named "onestack-tiny" at start-up.
    tiny_image: bool = True
    tiny_image_size: int = 1048576
    # With a real compute driver (container, qemu) onestack-tiny is a bootable guest built
    # offline from Debian packages (in the background at start-up) instead of the
    # placeholder; its build is cached in guest_cache_dir ("" = /var/cache/onestack/guest
    # as root, else ~/.cache/onestack/guest).
    bootable_tiny_image: bool = True
    guest_cache_dir: str = ""
    # Reject uploads whose content does not match disk_format or that fail safety checks.
    require_image_format_match: bool = True
    chunk_size: int = 1048576
    # Stores offered (multi-store API: GET /v2/info/stores, X-Image-Meta-Store, copy-image):
    # "local" keeps data as files (filesystem_store_datadir), "object" as objects of
    # onestack's object service in object_store_container of the account of the project id
    # object_store_project (a service account no user can scope to). New data goes to
    # default_store unless the upload names another.
    enabled_stores: str = "local"
    default_store: str = "local"
    object_store_container: str = "glance"
    object_store_project: str = "onestack-image"


conf.register_section("image", ImageConf)
