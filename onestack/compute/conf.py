"""[compute] settings: the virt driver, fake hosts, scheduler weights, quotas, limits."""
from __future__ import annotations

import dataclasses
import os
import shutil

from onestack import conf


@dataclasses.dataclass
class ComputeConf:
    # fake | container (runc) | qemu | auto (container when running as root with runc
    # installed, else fake). Real drivers run one host named after this machine.
    driver: str = "auto"
    # Real drivers: seconds between power-state syncs (a crashed instance goes SHUTOFF).
    power_sync_interval: float = 10.0
    # Attach a config drive (ISO 9660, label config-2) to every instance, not only to
    # those created with --config-drive true.
    force_config_drive: bool = False
    # qemu driver: auto (KVM when it can run a stock guest, else TCG) | tcg | kvm
    qemu_accel: str = "auto"
    # Seconds a guest gets to shut down on stop before it is killed.
    shutdown_timeout: float = 5.0
    container_pids_limit: int = 1024
    # The fake driver simulates this many hypervisor hosts in-process (host names fake-1..N).
    fake_hosts: int = 2
    fake_host_prefix: str = "fake"
    fake_vcpus: int = 64
    fake_memory_mb: int = 131072
    fake_disk_gb: int = 2048
    fake_delay: float = 0.0              # seconds added to every driver operation (0: instant)
    fake_fail_hosts: str = ""            # comma list of hosts whose spawn fails (failure injection)
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 512
    reserved_host_disk_gb: int = 0
    default_availability_zone: str = "nova"
    internal_service_availability_zone: str = "internal"
    # scheduler
    max_attempts: int = 3
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    build_failure_weight_multiplier: float = 1000000.0
    soft_affinity_weight_multiplier: float = 1.0
    soft_anti_affinity_weight_multiplier: float = 1.0
    max_placement_results: int = 1000
    service_down_time: int = 60
    # default quotas (per project)
    quota_instances: int = 10
    quota_cores: int = 20
    quota_ram: int = 51200
    quota_metadata_items: int = 128
    quota_injected_files: int = 5
    quota_injected_file_content_bytes: int = 10240
    quota_injected_file_path_length: int = 255
    quota_key_pairs: int = 100
    quota_server_groups: int = 10
    quota_server_group_members: int = 10
    max_user_data_bytes: int = 65535
    console_output_lines: int = 1000
    # Deferred delete: > 0 makes DELETE soft (SOFT_DELETED, powered off, restorable) and a
    # periodic job reclaims soft-deleted servers older than this many seconds.
    reclaim_instance_interval: int = 0


conf.register_section("compute", ComputeConf)


def get() -> ComputeConf:
    return conf.get().compute


def resolved_driver(name: str | None = None) -> str:
    """The driver ``[compute] driver`` means on this machine ("auto" resolved)."""
    name = name or get().driver
    if name != "auto":
        return name
    if os.geteuid() == 0 and shutil.which("runc", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        return "container"
    return "fake"
