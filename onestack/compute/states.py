"""Nova's vm_state / task_state / power_state vocabulary and the status they map to."""
from __future__ import annotations

BUILDING, ACTIVE, STOPPED, PAUSED, SUSPENDED, RESCUED, RESIZED = (
    "building", "active", "stopped", "paused", "suspended", "rescued", "resized")
SOFT_DELETED, DELETED, ERROR, SHELVED, SHELVED_OFFLOADED = (
    "soft-delete", "deleted", "error", "shelved", "shelved_offloaded")

NOSTATE, RUNNING, PAUSED_P, SHUTDOWN, CRASHED, SUSPENDED_P = 0, 1, 3, 4, 6, 7

_TASK_STATUS = {
    "rebooting": "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
    "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
    "updating_password": "PASSWORD", "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD",
    "rebuild_spawning": "REBUILD", "migrating": "MIGRATING", "resize_prep": "RESIZE",
    "resize_migrating": "RESIZE", "resize_migrated": "RESIZE", "resize_finish": "RESIZE",
}


def status(vm_state: str, task_state: str | None) -> str:
    if vm_state == BUILDING:
        return "BUILD"
    if vm_state == ACTIVE:
        return _TASK_STATUS.get(task_state or "", "ACTIVE")
    if vm_state == STOPPED:
        if task_state in ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish"):
            return "RESIZE"
        if task_state == "rebuilding":
            return "REBUILD"
        return "SHUTOFF"
    if vm_state == RESIZED:
        return "REVERT_RESIZE" if task_state == "resize_reverting" else "VERIFY_RESIZE"
    return {PAUSED: "PAUSED", SUSPENDED: "SUSPENDED", RESCUED: "RESCUE", SOFT_DELETED: "SOFT_DELETED",
            DELETED: "DELETED", ERROR: "ERROR", SHELVED: "SHELVED",
            SHELVED_OFFLOADED: "SHELVED_OFFLOADED"}.get(vm_state, "UNKNOWN")


# status filter value -> (vm_states, task_states or None)
STATUS_FILTER = {
    "BUILD": ([BUILDING], None), "ACTIVE": ([ACTIVE], None), "SHUTOFF": ([STOPPED], None),
    "PAUSED": ([PAUSED], None), "SUSPENDED": ([SUSPENDED], None), "RESCUE": ([RESCUED], None),
    "VERIFY_RESIZE": ([RESIZED], None), "ERROR": ([ERROR], None), "SHELVED": ([SHELVED], None),
    "SHELVED_OFFLOADED": ([SHELVED_OFFLOADED], None), "DELETED": ([DELETED], None),
    "SOFT_DELETED": ([SOFT_DELETED], None), "REBOOT": (None, ["rebooting", "reboot_pending", "reboot_started"]),
    "HARD_REBOOT": (None, ["rebooting_hard", "reboot_pending_hard", "reboot_started_hard"]),
    "REBUILD": (None, ["rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"]),
    "RESIZE": (None, ["resize_prep", "resize_migrating", "resize_migrated", "resize_finish"]),
    "MIGRATING": (None, ["migrating"]), "PASSWORD": (None, ["updating_password"]),
    "REVERT_RESIZE": (None, ["resize_reverting"]),
}
