import dataclasses

from onestack import conf


@dataclasses.dataclass
class VolumeConf:
    # Backends this host offers (comma-separated names from drivers/): "file" keeps each
    # volume as a sparse raw file, "qcow2" as a qcow2 image with snapshots/clones as
    # backing chains (needs qemu-img).
    enabled_backends: str = "file,qcow2"
    default_backend: str = "file"
    default_volume_type: str = "__DEFAULT__"
    availability_zone: str = "nova"
    # Thin provisioning: capacity reported = free space x this ratio.
    max_over_subscription_ratio: float = 20.0
    volumes_dir: str = ""        # default STATE_DIR/volumes
    backups_dir: str = ""        # default STATE_DIR/volume-backups
    # Where backups keep their chunks: "posix" (a content-addressed directory, backups_dir)
    # or "object" (containers of onestack's object service, in the volume owner's account;
    # the backup's `container`, default backup_container, shows in `openstack container list`).
    backup_driver: str = "posix"
    backup_container: str = "volumebackups"
    # User messages (GET /messages) are kept this many seconds.
    message_ttl: int = 2592000
    # Default quotas per project (-1 = unlimited), as upstream's defaults.
    quota_volumes: int = 10
    quota_snapshots: int = 10
    quota_gigabytes: int = 1000
    quota_backups: int = 10
    quota_backup_gigabytes: int = 1000
    quota_groups: int = 10
    quota_per_volume_gigabytes: int = -1
    # Largest volume accepted regardless of quota (GiB): guards against absurd sizes.
    max_volume_size: int = 16384


conf.register_section("volume", VolumeConf)
