"""Durable compute operations (onestack.tasks): build_server, delete_server, server_action.

Steps are idempotent and re-read the server row; a crash resumes at the running step.
Every failure path leaves no orphan: allocations released, ports deallocated, the server
in ERROR with a fault (or back to its previous state for non-destructive actions).
"""
from __future__ import annotations

import logging
import os
import tempfile
import traceback
from typing import Any

from sqlalchemy import or_, select, update

from onestack import bus, db
from onestack.bus import BusError
from onestack.compute import conf as cconf
from onestack.compute import deps, flavors
from onestack.compute import models as m
from onestack.compute import scheduler
from onestack.compute import service as svc
from onestack.compute import states as st
from onestack.compute.errors import NoValidHost
from onestack.context import RequestContext
from onestack.db.base import utcnow
from onestack.tasks import Retry, TaskRun, TaskSpec

log = logging.getLogger(__name__)


class Abort(Exception):
    """The server went away (deleted) while the task ran: stop quietly."""


def _ctx(run: TaskRun, project_id: str | None = None) -> RequestContext:
    return RequestContext.internal(user_id=run.payload.get("user_id"), project_id=project_id or run.project_id,
                                   request_id=run.payload.get("request_id") or "req-task")


def _load(s: Any, run: TaskRun) -> m.Server:
    srv = s.get(m.Server, run.resource_id)
    if srv is None or srv.deleted:
        raise Abort()
    return srv


def _call(host: str, method: str, timeout: float = 300.0, **kw: Any) -> Any:
    return bus.get().call(f"compute.{host}", method, timeout=timeout, **kw)


def _event(run: TaskRun, event: str, result: str, host: str | None = None, tb: str | None = None) -> None:
    if not run.payload.get("action_id"):
        return
    with db.write() as s:
        svc.finish_event(s, run.payload["action_id"], event, result, host, tb)


def _image_for(srv_image: str, ctx: RequestContext) -> dict[str, Any]:
    if not srv_image or not deps.available("image"):
        return {"id": srv_image}
    try:
        return deps.image().get_image(ctx, srv_image)
    except Exception:
        return {"id": srv_image}


# ------------------------------------------------------------------ build
def build_place_and_spawn(run: TaskRun) -> None:
    c = cconf.get()
    ctx = _ctx(run)
    tried: list[str] = list(run.payload.get("tried", []))
    while True:
        with db.read() as s:
            srv = s.get(m.Server, run.resource_id)
            if srv is None or srv.deleted or srv.task_state == "deleting":
                run.payload["aborted"] = True
                return
            if srv.vm_state != st.BUILDING:
                return  # already finished (resumed after the final commit)
            inst = svc.instance_dict(srv)
            host = srv.host
            req_nets = srv.requested_networks
            sec_groups = list(srv.security_groups or [])
            az = srv.availability_zone
            image_ref = srv.image_ref
            sysmeta = srv.system_metadata or {}
            bdms = list(srv.block_devices or [])
            flavor = srv.flavor
            spec = dict(run.payload.get("spec") or {})
            spec.update(flavor=flavor, project_id=srv.project_id,
                        image_props=(srv.system_metadata or {}).get("image_properties") or {})
            user_id = srv.user_id
        deps_placement = deps.placement()
        placed_now = False
        if host is None or not deps_placement.allocations_of(run.resource_id):
            try:
                chosen, _alts = scheduler.select_and_claim(
                    run.resource_id, spec, flavors.resources(flavor), run.project_id, user_id, exclude_hosts=tried,
                    task_state="networking" if req_nets not in (None, "none") else "spawning")
            except NoValidHost as e:
                _no_valid_host(run, str(e), e.details)
                run.payload["failed"] = True
                return
            host, az, placed_now = chosen["host"], chosen["az"], True
        run.payload["host"] = host
        try:
            ports: list[dict[str, Any]] = []
            if req_nets != "none" and req_nets is not None:
                net = deps.network()
                ports = net.allocate_for_server(ctx, run.resource_id, req_nets, sec_groups, host, az)
                addrs = net.server_addresses(run.resource_id)
                with db.write() as s:
                    srv = _load(s, run)
                    srv.addresses_cache = addrs
                    srv.task_state = "spawning"
            elif not placed_now:   # (else set with the host, in the scheduler's write)
                with db.write() as s:
                    _load(s, run).task_state = "spawning"
            bdevs = _prepare_volumes(run, ctx, bdms)
            # the image as it was when the server was created (upstream: the instance's image
            # meta); asked of the image service only for servers that did not record it
            image = {"id": image_ref, "name": sysmeta.get("image_name"),
                     "properties": sysmeta.get("image_properties") or {}} \
                if image_ref and "image_name" in sysmeta else _image_for(image_ref, ctx)
            info = _call(host, "build", instance=inst, image={"id": image.get("id"), "name": image.get("name"),
                                                               "properties": image.get("properties") or {}},
                         network_info=ports, block_devices=bdevs,
                         admin_password=run.payload.get("admin_password"))
            scheduler.note_build(host, True)
        except Abort:
            raise
        except Exception as e:  # spawn failed: clean this host, maybe reschedule
            log.warning("build of %s failed on %s: %s", run.resource_id, host, e)
            scheduler.note_build(host, False)
            try:
                _call(host, "destroy", instance=inst)
            except Exception:
                pass
            deps_placement.release(run.resource_id)
            tried.append(host)
            run.payload["tried"] = tried
            with db.write() as s:
                srv = _load(s, run)
                srv.host = srv.node = None
                srv.task_state = "scheduling"
                if len(tried) >= c.max_attempts or (spec.get("force_hosts") or spec.get("force_nodes")):
                    run.payload["failed"] = True
                    _fail_build(s, srv, run, f"Build of instance {srv.uuid} aborted: {_msg(e)}",
                                "".join(traceback.format_exception(e))[-4000:])
                    return
            continue
        run.payload["power_state"] = (info or {}).get("power_state", st.RUNNING)
        build_finish(run)      # ACTIVE now: no separate step (and task save) for it
        run.complete = True
        return


def _msg(e: Exception) -> str:
    return e.message if isinstance(e, BusError) else str(e)


def _prepare_volumes(run: TaskRun, ctx: RequestContext,
                     bdms: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    if bdms is None:
        with db.read() as s:
            bdms = list(_load(s, run).block_devices or [])
    if not bdms:
        return []
    vol = deps.volume("block device mappings")
    out = []
    done = dict(run.payload.get("volumes") or {})
    for i, b in enumerate(bdms):
        if b.get("destination_type", "volume") != "volume":
            continue
        key = str(i)
        volume_id = done.get(key)
        if volume_id is None:
            if b.get("source_type") == "volume":
                volume_id = b["uuid"]
            elif b.get("source_type") in ("image", "blank", "snapshot"):
                created = vol.create_volume(ctx, size=b.get("volume_size") or 1,
                                            image_id=b.get("uuid") if b.get("source_type") == "image" else None,
                                            snapshot_id=b.get("uuid") if b.get("source_type") == "snapshot" else None,
                                            name=f"{run.resource_id}-vol-{i}")
                volume_id = created["id"]
                vol.wait_for(volume_id, {"available"})
            else:
                continue
            done[key] = volume_id
            run.payload["volumes"] = done
        device = b.get("device_name") or f"/dev/vd{chr(ord('a') + i)}"
        conn = vol.attach(ctx, volume_id, run.resource_id, run.payload.get("host"), device)
        with db.write() as s:
            if s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == run.resource_id,
                                                         m.VolumeAttachment.volume_id == volume_id)) is None:
                s.add(m.VolumeAttachment(id=str(__import__("uuid").uuid4()), instance_uuid=run.resource_id,
                                         volume_id=volume_id, device=device, tag=b.get("tag"),
                                         delete_on_termination=bool(b.get("delete_on_termination")),
                                         boot_index=b.get("boot_index"),
                                         attachment_id=(conn or {}).get("id")))
        out.append({"volume_id": volume_id, "device": device, "connection": (conn or {}).get("connection_info")})
    return out


def _no_valid_host(run: TaskRun, message: str, details: str = "") -> None:
    with db.write() as s:
        srv = _load(s, run)
        srv.vm_state, srv.task_state, srv.host, srv.node = st.ERROR, None, None, None
        srv.cell = "cell0"
        mapping = s.get(m.InstanceMapping, srv.uuid)
        if mapping is not None:
            mapping.cell_name = "cell0"
        svc.set_fault(srv, 500, message, details)
        srv.updated_at = utcnow()
        if run.payload.get("action_id"):
            svc.finish_event(s, run.payload["action_id"], "conductor_schedule_and_build_instances", "Error",
                             None, message)


def _fail_build(s: Any, srv: m.Server, run: TaskRun, message: str, details: str) -> None:
    srv.vm_state, srv.task_state, srv.power_state = st.ERROR, None, st.NOSTATE
    srv.host = srv.node = None
    svc.set_fault(srv, 500, message, details)
    srv.updated_at = utcnow()
    if run.payload.get("action_id"):
        svc.finish_event(s, run.payload["action_id"], "compute_build_and_run_instance", "Error",
                         None, details)
    ctx = _ctx(run)
    s.info.setdefault("after_commit", []).append(lambda: _cleanup_resources(run.resource_id, ctx))


def _cleanup_resources(server_id: str, ctx: RequestContext) -> None:
    deps.placement().release(server_id)
    if deps.available("network"):
        try:
            deps.network().deallocate_for_server(ctx, server_id)
        except Exception:
            log.exception("deallocating ports of %s failed", server_id)


def build_finish(run: TaskRun) -> None:
    if run.payload.get("failed"):
        return
    if run.payload.get("aborted"):
        return
    srv_t = m.Server.__table__
    now = utcnow()
    with db.write() as s:
        # one conditional UPDATE (no ORM load of the row): only a server still building and
        # not being deleted becomes ACTIVE
        done = s.connection().execute(
            update(srv_t).where(srv_t.c.uuid == run.resource_id, srv_t.c.deleted.is_(False),
                                srv_t.c.vm_state == st.BUILDING,
                                or_(srv_t.c.task_state.is_(None), srv_t.c.task_state != "deleting"))
            .values(vm_state=st.ACTIVE, task_state=None, power_state=run.payload.get("power_state", st.RUNNING),
                    launched_at=now, updated_at=now)).rowcount
        if done and run.payload.get("action_id"):
            svc.finish_event(s, run.payload["action_id"], "compute_build_and_run_instance", "Success",
                             run.payload.get("host"))


def build_failed(run: TaskRun, error: str) -> None:
    with db.write() as s:
        srv = s.get(m.Server, run.resource_id)
        if srv is not None and not srv.deleted and srv.vm_state == st.BUILDING:
            _fail_build(s, srv, run, "Build of instance aborted: " + error[:200], error)


# ------------------------------------------------------------------ delete
def delete_destroy(run: TaskRun) -> None:
    # a build still running on this server finishes (or notices "deleting") first
    from onestack.tasks.models import Task
    with db.read() as s:
        busy = s.scalar(select(Task.id).where(Task.resource_id == run.resource_id, Task.id != run.id,
                                              Task.kind.in_(["compute.build_server", "compute.server_action"]),
                                              Task.state.in_(["PENDING", "RUNNING"])).limit(1))
        srv = s.get(m.Server, run.resource_id)
        if srv is None or srv.deleted:
            run.payload["gone"] = True
            return
        inst, host = svc.instance_dict(srv), srv.host
    if busy:
        raise Retry("waiting for the running operation on this server", delay=0.2)
    for h in {host, run.payload.get("host")} - {None}:
        try:
            _call(h, "destroy", instance=inst)
        except BusError as e:
            if e.kind != "NoSuchTopic":
                raise


def delete_release(run: TaskRun) -> None:
    if run.payload.get("gone"):
        return
    ctx = _ctx(run)
    with db.read() as s:
        atts = list(s.scalars(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == run.resource_id)))
        att_info = [(a.volume_id, a.delete_on_termination) for a in atts]
    if att_info and deps.available("volume"):
        vol = deps.volume()
        for vid, dot in att_info:
            try:
                vol.detach(ctx, vid, server_id=run.resource_id)
                if dot:
                    vol.delete_volume(ctx, vid)
            except Exception:
                log.exception("detaching volume %s from %s failed", vid, run.resource_id)
    _cleanup_resources(run.resource_id, ctx)
    with db.read() as s:
        mig_ids = [mg.uuid for mg in s.scalars(select(m.Migration).where(m.Migration.instance_uuid == run.resource_id))]
    for mid in mig_ids:
        deps.placement().release(mid)


def delete_finish(run: TaskRun) -> None:
    if run.payload.get("gone"):
        return
    with db.write() as s:
        srv = s.get(m.Server, run.resource_id)
        if srv is None or srv.deleted:
            return
        for a in s.scalars(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid)):
            s.delete(a)
        svc.mark_deleted(srv)
        if run.payload.get("action_id"):
            svc.finish_event(s, run.payload["action_id"], "compute_terminate_instance", "Success", srv.host)


def delete_failed(run: TaskRun, error: str) -> None:
    with db.write() as s:
        srv = s.get(m.Server, run.resource_id)
        if srv is not None and not srv.deleted:
            srv.task_state = None
            srv.vm_state = st.ERROR
            svc.set_fault(srv, 500, f"Delete failed: {error[:200]}", error)


# ------------------------------------------------------------------ actions
def action_run(run: TaskRun) -> None:
    from onestack.compute import actions
    action = run.payload["action"]
    fn = actions.HANDLERS[action]
    event = actions.EVENTS.get(action, f"compute_{action}")
    with db.read() as s:
        srv = s.get(m.Server, run.resource_id)
        host = srv.host if srv else None
    if run.payload.get("action_id"):
        with db.write() as s:
            if s.scalar(select(m.InstanceActionEvent.id).where(
                    m.InstanceActionEvent.action_id == run.payload["action_id"],
                    m.InstanceActionEvent.event == event)) is None:
                svc.start_event(s, run.payload["action_id"], event, host)
    try:
        fn(run)
    except Abort:
        return
    _event(run, event, "Success", run.payload.get("host") or host)


def action_failed(run: TaskRun, error: str) -> None:
    from onestack.compute import actions
    action = run.payload["action"]
    with db.write() as s:
        srv = s.get(m.Server, run.resource_id)
        if srv is not None and not srv.deleted:
            srv.task_state = None
            if action in actions.ERROR_ON_FAILURE:
                srv.vm_state = st.ERROR
                svc.set_fault(srv, 500, error.split(": ", 1)[-1][:255], error)
            srv.updated_at = utcnow()
        if run.payload.get("action_id"):
            svc.finish_event(s, run.payload["action_id"], actions.EVENTS.get(action, f"compute_{action}"),
                             "Error", srv.host if srv else None, error)


SPECS = [
    TaskSpec("compute.build_server", [build_place_and_spawn, build_finish], on_failure=build_failed,
             max_attempts=3),
    TaskSpec("compute.delete_server", [delete_destroy, delete_release, delete_finish], on_failure=delete_failed,
             max_attempts=400),
    TaskSpec("compute.server_action", [action_run], on_failure=action_failed, max_attempts=3),
]


def snapshot_to_image(host: str, inst: dict[str, Any], ctx: RequestContext, image_id: str) -> None:
    img = deps.image("snapshots")
    fd, path = tempfile.mkstemp(prefix="onestack-snap-")
    os.close(fd)
    try:
        _call(host, "snapshot", instance=inst, path=path)
        img.upload_from_file(ctx, image_id, path)
    finally:
        os.unlink(path)
