"""What each server action does once its task runs (called by tasks.action_run).

Each handler re-reads the server, asks the agent on the server's host to act through the
virt driver, and commits the final vm_state/power_state with task_state cleared."""
from __future__ import annotations

import uuid
from typing import Any, Callable

from sqlalchemy import select

from onestack import db, errors
from onestack.compute import deps, flavors, scheduler
from onestack.compute import models as m
from onestack.compute import service as svc
from onestack.compute import states as st
from onestack.compute.errors import NoValidHost
from onestack.compute.tasks import Abort, _call, _ctx, _image_for, _load, snapshot_to_image
from onestack.db.base import utcnow
from onestack.tasks import TaskRun

EVENTS = {"stop": "compute_stop_instance", "start": "compute_start_instance", "reboot": "compute_reboot_instance",
          "pause": "compute_pause_instance", "unpause": "compute_unpause_instance",
          "suspend": "compute_suspend_instance", "resume": "compute_resume_instance",
          "rescue": "compute_rescue_instance", "unrescue": "compute_unrescue_instance",
          "changePassword": "compute_set_admin_password", "rebuild": "compute_rebuild_instance",
          "resize": "compute_prep_resize", "migrate": "compute_prep_resize",
          "confirmResize": "compute_confirm_resize", "revertResize": "compute_revert_resize",
          "live-migration": "compute_live_migration", "evacuate": "compute_rebuild_instance",
          "shelve": "compute_shelve_instance", "shelveOffload": "compute_shelve_offload_instance",
          "unshelve": "compute_unshelve_instance", "createImage": "compute_snapshot_instance",
          "createBackup": "compute_backup_instance", "trigger_crash_dump": "compute_trigger_crash_dump",
          "soft_delete": "compute_soft_delete_instance", "restore": "compute_restore_instance"}
ERROR_ON_FAILURE = {"rebuild", "evacuate", "unshelve"}


def _snap(run: TaskRun) -> tuple[dict[str, Any], str | None, m.Server]:
    with db.read() as s:
        srv = _load(s, run)
        return svc.instance_dict(srv), srv.host, srv


def _finish(run: TaskRun, **values: Any) -> None:
    with db.write() as s:
        srv = _load(s, run)
        for k, v in values.items():
            setattr(srv, k, v)
        srv.task_state = values.get("task_state")
        srv.updated_at = utcnow()


def _power(op: str, vm_state: str) -> Callable[[TaskRun], None]:
    def run_it(run: TaskRun) -> None:
        inst, host, _ = _snap(run)
        info = _call(host, "power", instance=inst, op=op, **_extra(run, op))
        _finish(run, vm_state=vm_state, power_state=info.get("power_state", st.NOSTATE))
    return run_it


def _extra(run: TaskRun, op: str) -> dict[str, Any]:
    if op == "reboot":
        return {"hard": run.payload["args"].get("type", "SOFT").upper() == "HARD"}
    return {}


def _crash_dump(run: TaskRun) -> None:
    inst, host, _ = _snap(run)
    _call(host, "power", instance=inst, op="trigger_crash_dump")


def _rescue(run: TaskRun) -> None:
    inst, host, srv = _snap(run)
    image_ref = run.payload["args"].get("rescue_image_ref") or srv.image_ref
    image = _image_for(image_ref, _ctx(run))
    info = _call(host, "rescue", instance=inst, image={"id": image.get("id")},
                 admin_password=run.payload["args"].get("adminPass"))
    _finish(run, vm_state=st.RESCUED, power_state=info.get("power_state", st.RUNNING))


def _unrescue(run: TaskRun) -> None:
    inst, host, _ = _snap(run)
    info = _call(host, "unrescue", instance=inst)
    _finish(run, vm_state=st.ACTIVE, power_state=info.get("power_state", st.RUNNING))


def _password(run: TaskRun) -> None:
    inst, host, srv = _snap(run)
    _call(host, "set_admin_password", instance=inst, password=run.payload["args"]["adminPass"])
    _finish(run, vm_state=srv.vm_state)


def _rebuild(run: TaskRun) -> None:
    inst, host, srv = _snap(run)
    image = _image_for(srv.image_ref, _ctx(run))
    was_stopped = srv.vm_state == st.STOPPED
    info = _call(host, "rebuild", instance=inst, image={"id": image.get("id"), "name": image.get("name")})
    if was_stopped:
        info = _call(host, "power", instance=inst, op="power_off")
    _finish(run, vm_state=st.STOPPED if was_stopped else st.ACTIVE,
            power_state=info.get("power_state", st.RUNNING), launched_at=utcnow())


def _move(run: TaskRun, new_flavor: dict[str, Any] | None, migration_type: str, exclude_source: bool,
          keep_source_alloc: bool, dest_host: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """Schedule a destination for the server (allocation under the server's uuid), keeping
    the source allocation under the migration's uuid when asked. Returns (source, dest, info)."""
    placement = deps.placement()
    inst, source, srv = _snap(run)
    flavor = new_flavor or srv.flavor
    mig_uuid = run.payload["args"]["migration_uuid"]
    src_allocs = placement.allocations_of(srv.uuid)
    if run.payload.get("dest"):  # resumed after the claim
        dest = run.payload["dest"]
    else:
        if keep_source_alloc:
            for rp, res in src_allocs.items():
                placement.claim(mig_uuid, rp, res, srv.project_id, srv.user_id, "MIGRATION")
        spec = {"flavor": flavor, "project_id": srv.project_id, "az": srv.pinned_az,
                "image_props": (srv.system_metadata or {}).get("image_properties") or {},
                "force_hosts": [dest_host] if dest_host else []}
        with db.read() as s:
            from onestack.compute import groups
            g = groups.group_of(s, srv.uuid)
            if g is not None:
                spec["group"] = {"uuid": g.uuid, "policy": g.policy, "rules": g.rules or {}}
        excl = [source] if exclude_source and source else []
        try:
            try:
                chosen, _ = scheduler.select_and_claim(srv.uuid, spec, flavors.resources(flavor), srv.project_id,
                                                       srv.user_id, exclude_hosts=excl)
            except NoValidHost:
                if excl and migration_type == "resize" and not dest_host:
                    chosen, _ = scheduler.select_and_claim(srv.uuid, spec, flavors.resources(flavor),
                                                           srv.project_id, srv.user_id)
                else:
                    raise
        except NoValidHost:
            # put things back as they were
            for rp, res in src_allocs.items():
                placement.claim(srv.uuid, rp, res, srv.project_id, srv.user_id)
            placement.release(mig_uuid)
            with db.write() as s:
                mig = s.scalar(select(m.Migration).where(m.Migration.uuid == mig_uuid))
                if mig is not None:
                    mig.status = "error"
                srv2 = _load(s, run)
                srv2.host, srv2.node = source, srv.node
            raise
        dest = chosen["host"]
        run.payload["dest"] = dest
        with db.write() as s:
            srv2 = _load(s, run)
            srv2.host, srv2.node = source, srv.node  # the scheduler recorded dest; not moved yet
            mig = s.scalar(select(m.Migration).where(m.Migration.uuid == mig_uuid))
            if mig is not None:
                mig.dest_compute = mig.dest_host = mig.dest_node = dest
                mig.status = "migrating"
                mig.updated_at = utcnow()
    power_on = srv.power_state == st.RUNNING
    inst = dict(inst, flavor=flavor)
    token = _call(source, "migrate_out", instance=inst) if source else {"vm": {}}
    info = _call(dest, "migrate_in", instance=inst, token=token, power_on=power_on)
    return source or "", dest, info


def _resize(run: TaskRun) -> None:
    new_flavor = run.payload["args"].get("flavor")
    source, dest, info = _move(run, new_flavor, "resize" if new_flavor else "migration",
                               exclude_source=True, keep_source_alloc=True,
                               dest_host=run.payload["args"].get("host"))
    with db.write() as s:
        srv = _load(s, run)
        srv.old_flavor = srv.flavor
        if new_flavor:
            srv.flavor, srv.flavor_id = new_flavor, new_flavor["id"]
        srv.new_flavor = srv.flavor
        srv.host = srv.node = dest
        srv.vm_state, srv.task_state = st.RESIZED, None
        srv.power_state = info.get("power_state", st.RUNNING)
        srv.system_metadata = dict(srv.system_metadata or {}, old_vm_state=run.payload["args"].get("old_vm_state",
                                                                                                   st.ACTIVE))
        srv.updated_at = utcnow()
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == run.payload["args"]["migration_uuid"]))
        if mig is not None:
            mig.status, mig.updated_at = "finished", utcnow()


def _confirm(run: TaskRun) -> None:
    mig_uuid = run.payload["args"]["migration_uuid"]
    deps.placement().release(mig_uuid)
    with db.write() as s:
        srv = _load(s, run)
        old_state = (srv.system_metadata or {}).get("old_vm_state", st.ACTIVE)
        srv.vm_state = st.STOPPED if old_state == st.STOPPED else st.ACTIVE
        srv.task_state, srv.old_flavor, srv.new_flavor = None, None, None
        srv.updated_at = utcnow()
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == mig_uuid))
        if mig is not None:
            mig.status, mig.updated_at = "confirmed", utcnow()


def _revert(run: TaskRun) -> None:
    placement = deps.placement()
    mig_uuid = run.payload["args"]["migration_uuid"]
    inst, dest, srv = _snap(run)
    with db.read() as s:
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == mig_uuid))
        source = mig.source_compute
        source_node = mig.source_node
    old_flavor = srv.old_flavor or srv.flavor
    token = _call(dest, "migrate_out", instance=inst)
    old_state = (srv.system_metadata or {}).get("old_vm_state", st.ACTIVE)
    info = _call(source, "migrate_in", instance=dict(inst, flavor=old_flavor), token=token,
                 power_on=old_state != st.STOPPED)
    src_allocs = placement.allocations_of(mig_uuid)
    for rp, res in src_allocs.items():
        placement.claim(srv.uuid, rp, res, srv.project_id, srv.user_id)
    placement.release(mig_uuid)
    with db.write() as s:
        srv = _load(s, run)
        srv.flavor, srv.flavor_id = old_flavor, old_flavor["id"]
        srv.old_flavor = srv.new_flavor = None
        srv.host, srv.node = source, source_node
        srv.vm_state = st.STOPPED if old_state == st.STOPPED else st.ACTIVE
        srv.task_state = None
        srv.power_state = info.get("power_state", st.RUNNING)
        srv.updated_at = utcnow()
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == mig_uuid))
        if mig is not None:
            mig.status, mig.updated_at = "reverted", utcnow()


def _live_migrate(run: TaskRun) -> None:
    source, dest, info = _move(run, None, "live-migration", exclude_source=True, keep_source_alloc=False,
                               dest_host=run.payload["args"].get("host"))
    with db.write() as s:
        srv = _load(s, run)
        srv.host = srv.node = dest
        srv.task_state = None
        srv.power_state = info.get("power_state", srv.power_state)
        srv.updated_at = utcnow()
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == run.payload["args"]["migration_uuid"]))
        if mig is not None:
            mig.status, mig.updated_at = "completed", utcnow()


def _evacuate(run: TaskRun) -> None:
    placement = deps.placement()
    inst, source, srv = _snap(run)
    args = run.payload["args"]
    if not run.payload.get("dest"):
        spec = {"flavor": srv.flavor, "project_id": srv.project_id, "az": srv.pinned_az,
                "force_hosts": [args["host"]] if args.get("host") else []}
        chosen, _ = scheduler.select_and_claim(srv.uuid, spec, flavors.resources(srv.flavor), srv.project_id,
                                               srv.user_id, exclude_hosts=[source] if source else [])
        run.payload["dest"] = chosen["host"]
    dest = run.payload["dest"]
    image = _image_for(srv.image_ref, _ctx(run))
    info = _call(dest, "build", instance=inst, image={"id": image.get("id"), "name": image.get("name")},
                 network_info=[], block_devices=[], admin_password=args.get("adminPass"))
    stopped = srv.vm_state == st.STOPPED and args.get("keep_stopped")
    if stopped:
        info = _call(dest, "power", instance=inst, op="power_off")
    del placement
    with db.write() as s:
        srv = _load(s, run)
        srv.host = srv.node = dest
        srv.vm_state = st.STOPPED if stopped else st.ACTIVE
        srv.task_state = None
        srv.power_state = info.get("power_state", st.RUNNING)
        srv.updated_at = utcnow()
        mig = s.scalar(select(m.Migration).where(m.Migration.uuid == args["migration_uuid"]))
        if mig is not None:
            mig.dest_compute = mig.dest_host = mig.dest_node = dest
            mig.status, mig.updated_at = "done", utcnow()


def _offload(run: TaskRun, inst: dict[str, Any], host: str | None) -> None:
    if host:
        _call(host, "destroy", instance=inst)
    deps.placement().release(run.resource_id)
    with db.write() as s:
        srv = _load(s, run)
        srv.vm_state, srv.task_state, srv.power_state = st.SHELVED_OFFLOADED, None, st.SHUTDOWN
        srv.host = srv.node = None
        srv.updated_at = utcnow()


def _shelve(run: TaskRun) -> None:
    inst, host, srv = _snap(run)
    info = _call(host, "power", instance=inst, op="power_off")
    image_id = run.payload["args"].get("image_id")
    if image_id:
        snapshot_to_image(host, inst, _ctx(run, srv.project_id), image_id)
    with db.write() as s:
        srv = _load(s, run)
        srv.vm_state, srv.power_state, srv.task_state = st.SHELVED, info.get("power_state", st.SHUTDOWN), \
            "shelving_offloading"
        srv.system_metadata = dict(srv.system_metadata or {}, shelved_image_id=image_id,
                                   shelved_at=utcnow().isoformat(), shelved_host=host)
    _offload(run, inst, host)


def _shelve_offload(run: TaskRun) -> None:
    inst, host, _ = _snap(run)
    _offload(run, inst, host)


def _unshelve(run: TaskRun) -> None:
    inst, _, srv = _snap(run)
    args = run.payload["args"]
    if not run.payload.get("dest"):
        az = args.get("availability_zone") or srv.pinned_az
        spec = {"flavor": srv.flavor, "project_id": srv.project_id, "az": az,
                "force_hosts": [args["host"]] if args.get("host") else [],
                "image_props": (srv.system_metadata or {}).get("image_properties") or {}}
        chosen, _ = scheduler.select_and_claim(srv.uuid, spec, flavors.resources(srv.flavor), srv.project_id,
                                               srv.user_id)
        run.payload["dest"] = chosen["host"]
    dest = run.payload["dest"]
    shelved_image = (srv.system_metadata or {}).get("shelved_image_id")
    image = _image_for(shelved_image or srv.image_ref, _ctx(run, srv.project_id))
    info = _call(dest, "build", instance=inst, image={"id": image.get("id"), "name": image.get("name")},
                 network_info=[], block_devices=[])
    if shelved_image and deps.available("image"):
        try:
            deps.image().delete_image(_ctx(run, srv.project_id), shelved_image)
        except Exception:
            pass
    with db.write() as s:
        srv = _load(s, run)
        srv.host = srv.node = dest
        srv.vm_state, srv.task_state = st.ACTIVE, None
        srv.power_state = info.get("power_state", st.RUNNING)
        if args.get("availability_zone"):
            srv.availability_zone = args["availability_zone"]
        meta = dict(srv.system_metadata or {})
        for k in ("shelved_image_id", "shelved_at", "shelved_host"):
            meta.pop(k, None)
        srv.system_metadata = meta
        srv.updated_at = utcnow()


def _snapshot(run: TaskRun) -> None:
    inst, host, srv = _snap(run)
    with db.write() as s:
        _load(s, run).task_state = "image_uploading"
    ctx = _ctx(run, srv.project_id)
    try:
        snapshot_to_image(host, inst, ctx, run.payload["args"]["image_id"])
    except Exception:
        try:
            deps.image().delete_image(ctx, run.payload["args"]["image_id"])
        except Exception:
            pass
        raise
    args = run.payload["args"]
    if args.get("rotation") is not None:
        _rotate_backups(ctx, srv.uuid, args["backup_type"], int(args["rotation"]))
    _finish(run, vm_state=srv.vm_state)


def _rotate_backups(ctx: Any, server_id: str, backup_type: str, rotation: int) -> None:
    """Keep the newest ``rotation`` backups of this type of the server; delete the older ones."""
    img = deps.image()
    backups = img.list_images(ctx, {"instance_uuid": server_id, "image_type": "backup", "backup_type": backup_type})
    for old in backups[rotation:]:      # newest first
        try:
            img.delete_image(ctx, old["id"])
        except errors.NotFound:
            pass


HANDLERS: dict[str, Callable[[TaskRun], None]] = {
    "stop": _power("power_off", st.STOPPED), "start": _power("power_on", st.ACTIVE),
    "reboot": _power("reboot", st.ACTIVE), "pause": _power("pause", st.PAUSED),
    "unpause": _power("unpause", st.ACTIVE), "suspend": _power("suspend", st.SUSPENDED),
    "resume": _power("resume", st.ACTIVE), "trigger_crash_dump": _crash_dump,
    "rescue": _rescue, "unrescue": _unrescue, "changePassword": _password, "rebuild": _rebuild,
    "resize": _resize, "migrate": _resize, "confirmResize": _confirm, "revertResize": _revert,
    "live-migration": _live_migrate, "evacuate": _evacuate, "shelve": _shelve,
    "shelveOffload": _shelve_offload, "unshelve": _unshelve, "createImage": _snapshot,
    "createBackup": _snapshot,
    "soft_delete": _power("power_off", st.SOFT_DELETED), "restore": _power("power_on", st.ACTIVE),
}


def new_migration(s: Any, srv: m.Server, mtype: str, new_flavor: dict[str, Any] | None = None,
                  dest: str | None = None, status: str = "pre-migrating") -> m.Migration:
    mig = m.Migration(uuid=str(uuid.uuid4()), instance_uuid=srv.uuid, project_id=srv.project_id,
                      user_id=srv.user_id, source_compute=srv.host, source_node=srv.node, dest_compute=dest,
                      dest_host=dest, dest_node=dest,
                      old_flavor_id=(srv.flavor or {}).get("internal_id"),
                      new_flavor_id=(new_flavor or srv.flavor or {}).get("internal_id"), status=status,
                      migration_type=mtype, created_at=utcnow(), updated_at=utcnow())
    s.add(mig)
    s.flush()
    return mig
