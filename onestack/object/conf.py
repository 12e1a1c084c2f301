"""[object] settings: where objects live, the ring, and Swift's published limits."""
from __future__ import annotations

import dataclasses

from onestack import conf


@dataclasses.dataclass
class ObjectConf:
    # Root of the object store; default STATE_DIR/object.
    root: str = ""
    # Device directories under ROOT/devices (comma-separated); the ring spreads partitions
    # over them and places `replicas` copies of each object on distinct devices.
    devices: str = "d1"
    part_power: int = 10
    replicas: int = 1
    fsync: bool = True                 # fsync object files and their directories
    db_synchronous: str = "FULL"       # listing DBs: FULL survives power loss, NORMAL a crash
    # Limits published at /info (upstream defaults).
    max_file_size: int = 5368709122
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_object_name_length: int = 1024
    max_container_name_length: int = 256
    max_account_name_length: int = 256
    container_listing_limit: int = 10000
    account_listing_limit: int = 10000
    max_header_size: int = 8192
    # Static large objects
    max_manifest_segments: int = 1000
    max_manifest_size: int = 8388608
    min_segment_size: int = 1
    # Bulk
    max_deletes_per_request: int = 10000
    max_containers_per_extraction: int = 10000
    max_failed_extractions: int = 1000
    # Expirer: how often the periodic job removes objects past X-Delete-At (seconds).
    expirer_interval: float = 5.0
    # Container sync (X-Container-Sync-To within this cluster): how often changes are copied.
    container_sync_interval: float = 5.0
    # Whole objects up to this size are read and verified before the first byte is sent;
    # larger ones are verified while streaming (a mismatch aborts the response).
    verify_in_memory_limit: int = 4194304
    reseller_prefix: str = "AUTH_"
    operator_roles: str = "admin,member,swiftoperator"
    reseller_admin_role: str = "ResellerAdmin"
    # S3: the domain for virtual-host style requests (Host: BUCKET.<s3_domain>, path
    # /object/s3/KEY); empty disables.
    s3_domain: str = "localhost"
    s3_region: str = "RegionOne"


conf.register_section("object", ObjectConf)
