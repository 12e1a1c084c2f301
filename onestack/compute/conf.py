"""[compute] settings: the virt driver, fake hosts, scheduler weights, quotas, limits."""
from __future__ import annotations

import dataclasses

from onestack import conf


@dataclasses.dataclass
class ComputeConf:
    driver: str = "fake"                 # fake (container and qemu come later)
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


conf.register_section("compute", ComputeConf)


def get() -> ComputeConf:
    return conf.get().compute
