"""POST /servers/{id}/action and the per-server sub-resources (instance actions,
migrations, consoles, interfaces, volume attachments, diagnostics, topology, password)."""
from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import select

from onestack import bus, db, errors
from onestack.api import schema
from onestack.api.routing import Reply, Req
from onestack.compute import actions as act
from onestack.compute import deps, flavors, hosts
from onestack.compute import models as m
from onestack.compute import service as svc
from onestack.compute import states as st
from onestack.compute.api import proxies, views
from onestack.compute.api.common import load, need_capability, target
from onestack.compute.api.servers import render
from onestack.compute.errors import InvalidState
from onestack.compute.schemas import servers as sch
from onestack.compute.schemas.common import BOOL, DESCRIPTION, METADATA, NAME, obj, truthy
from onestack.db.base import utcnow


def _v(data: Any, sc: dict) -> Any:
    schema.validate(data, sc)
    return data


def _simple(rule: str, action: str, args: Any = None) -> Any:
    def handler(req: Req, s: Any, srv: m.Server, data: Any) -> Any:
        req.ctx.can(rule, target(srv))
        svc.start_action(s, req.ctx, srv, action, args(data) if callable(args) else None)
        return Reply(202)
    return handler


def _reboot(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    _v(data, obj({"type": {"type": "string", "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}}, ["type"]))
    req.ctx.can("os_compute_api:servers:reboot", target(srv))
    hard = data["type"].upper() == "HARD"
    if not hard and srv.vm_state != st.ACTIVE:
        raise InvalidState(action="reboot", id=srv.uuid, attr="vm_state", state=srv.vm_state)
    svc.check_lock(req.ctx, srv)
    allowed_tasks = (None, "rebooting", "reboot_pending", "reboot_started", "powering-on", "powering-off") \
        if hard else (None,)
    svc.check_state(srv, "reboot", svc.SIMPLE["reboot"][0], allowed_tasks)
    srv.task_state = None
    svc.start_action(s, req.ctx, srv, "reboot", {"type": data["type"].upper()},
                     task_state="rebooting_hard" if hard else "rebooting")
    return Reply(202)


def _lock(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    req.ctx.can("os_compute_api:os-lock-server:lock", target(srv))
    if data is not None and views.mv(req, "2.73"):
        _v(data, obj({"locked_reason": {"type": "string", "minLength": 1, "maxLength": 255}}))
    elif data not in (None, {}) and not views.mv(req, "2.73"):
        pass
    svc.record_action(s, req.ctx, srv.uuid, "lock", srv.project_id)
    srv.locked = True
    srv.locked_by = "owner" if req.ctx.project_id == srv.project_id else "admin"
    srv.locked_reason = (data or {}).get("locked_reason") if views.mv(req, "2.73") else None
    return Reply(202)


def _unlock(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    req.ctx.can("os_compute_api:os-lock-server:unlock", target(srv))
    if srv.locked and srv.locked_by == "admin" and req.ctx.project_id != srv.project_id:
        req.ctx.can("os_compute_api:os-lock-server:unlock:unlock_override", target(srv))
    elif srv.locked and srv.locked_by == "admin" and not req.ctx.is_admin:
        req.ctx.can("os_compute_api:os-lock-server:unlock:unlock_override", target(srv))
    svc.record_action(s, req.ctx, srv.uuid, "unlock", srv.project_id)
    srv.locked, srv.locked_by, srv.locked_reason = False, None, None
    return Reply(202)


def _resize(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    _v(data, obj({"flavorRef": {"type": ["string", "integer"], "minLength": 1},
                  "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}}, ["flavorRef"]))
    req.ctx.can("os_compute_api:servers:resize", target(srv))
    try:
        f = flavors.get(s, str(data["flavorRef"]), req.ctx)
    except errors.NotFound:
        raise errors.BadRequest(f"Unable to find flavor '{data['flavorRef']}'") from None
    new = flavors.snapshot(s, f)
    if new["id"] == srv.flavor["id"]:
        raise errors.BadRequest("When resizing, instances must change flavor!")
    if new["disk"] < srv.flavor["disk"] and srv.image_ref:
        raise errors.BadRequest("Resize error: Unable to resize disk down.")
    _check_quota_delta(s, srv, new)
    svc.check_lock(req.ctx, srv)
    svc.check_state(srv, "resize", svc.SIMPLE["resize"][0])
    mig = act.new_migration(s, srv, "resize", new)
    svc.start_action(s, req.ctx, srv, "resize", {"flavor": new, "migration_uuid": mig.uuid,
                                                 "old_vm_state": srv.vm_state})
    if "OS-DCF:diskConfig" in data:
        srv.disk_config = data["OS-DCF:diskConfig"]
    return Reply(202)


def _check_quota_delta(s: Any, srv: m.Server, new: dict[str, Any]) -> None:
    from onestack.compute import quotas
    dv, dr = new["vcpus"] - srv.flavor["vcpus"], new["ram"] - srv.flavor["ram"]
    if dv <= 0 and dr <= 0:
        return
    lim, use = quotas.limits(s, srv.project_id), quotas.usage(s, srv.project_id)
    for res, d in (("cores", dv), ("ram", dr)):
        if d > 0 and lim[res] >= 0 and use[res] + d > lim[res]:
            raise errors.OverQuota(f"Quota exceeded for {res}: Requested {d}, but already used {use[res]} of "
                                   f"{lim[res]} {res}")


def _migration_of(s: Any, srv: m.Server, action: str) -> m.Migration:
    mig = s.scalar(select(m.Migration).where(m.Migration.instance_uuid == srv.uuid, m.Migration.status == "finished")
                   .order_by(m.Migration.id.desc()))
    if mig is None:
        raise errors.BadRequest(f"Instance has not been resized.")
    return mig


def _confirm(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    req.ctx.can("os_compute_api:servers:confirm_resize", target(srv))
    svc.check_lock(req.ctx, srv)
    if srv.vm_state != st.RESIZED:
        raise InvalidState(action="confirmResize", id=srv.uuid, attr="vm_state", state=srv.vm_state)
    mig = _migration_of(s, srv, "confirmResize")
    mig.status = "confirming"
    svc.start_action(s, req.ctx, srv, "confirmResize", {"migration_uuid": mig.uuid})
    return Reply(204)


def _revert(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    req.ctx.can("os_compute_api:servers:revert_resize", target(srv))
    svc.check_lock(req.ctx, srv)
    if srv.vm_state != st.RESIZED:
        raise InvalidState(action="revertResize", id=srv.uuid, attr="vm_state", state=srv.vm_state)
    mig = _migration_of(s, srv, "revertResize")
    mig.status = "reverting"
    svc.start_action(s, req.ctx, srv, "revertResize", {"migration_uuid": mig.uuid})
    return Reply(202)


def _rebuild(req: Req, s: Any, srv: m.Server, data: Any) -> Any:
    data = _v({"rebuild": data}, sch.rebuild(req.ctx.microversion))["rebuild"]
    req.ctx.can("os_compute_api:servers:rebuild", target(srv))
    svc.check_lock(req.ctx, srv)
    svc.check_state(srv, "rebuild", svc.SIMPLE["rebuild"][0])
    image_ref = data["imageRef"].rstrip("/").split("/")[-1]
    img = svc._check_image(req.ctx, image_ref, srv.flavor, not srv.image_ref)
    if not srv.image_ref and image_ref != (srv.system_metadata or {}).get("boot_image"):
        if not views.mv(req, "2.93"):
            raise errors.BadRequest("Rebuilding a volume-backed server with a new image is not supported.")
    srv.image_ref = image_ref if srv.image_ref else srv.image_ref
    srv.system_metadata = dict(srv.system_metadata or {}, image_properties=img.get("properties") or {},
                               image_name=img.get("name"))
    if "trusted_image_certificates" in data:
        srv.system_metadata = dict(srv.system_metadata, trusted_image_certificates=svc.trusted_certs(
            data, not srv.image_ref, "rebuilding a volume-backed server"))
    for key, attr in (("name", "name"), ("description", "description"), ("accessIPv4", "access_ip_v4"),
                      ("accessIPv6", "access_ip_v6"), ("OS-DCF:diskConfig", "disk_config"),
                      ("hostname", "hostname"), ("user_data", "user_data")):
        if key in data:
            setattr(srv, attr, data[key])
    if "metadata" in data:
        srv.metadata_ = dict(data["metadata"])
    if "key_name" in data:
        if data["key_name"] is None:
            srv.key_name = srv.key_data = None
        else:
            from onestack.compute import keypairs
            try:
                kp = keypairs.get(s, req.ctx.user_id, data["key_name"])
            except errors.NotFound:
                raise errors.BadRequest("Invalid key_name provided.") from None
            srv.key_name, srv.key_data = kp.name, kp.public_key
    admin_pass = data.get("adminPass") or _password()
    svc.start_action(s, req.ctx, srv, "rebuild", {"image_ref": image_ref})
    s.flush()
    out = render(req, s, srv, with_groups=views.mv(req, "2.71"))
    out["adminPass"] = admin_pass
    if not views.mv(req, "2.75"):
        for k in [k for k in out if k.startswith("OS-EXT-") or k.startswith("OS-SRV-USG") or
                  k in ("key_name", "config_drive", "os-extended-volumes:volumes_attached", "security_groups",
                        "host_status", "pinned_availability_zone")]:
            out.pop(k, None)
        if views.mv(req, "2.54"):
            out["key_name"] = srv.key_name
        out["addresses"] = views.plain_addresses(out["addresses"])
    else:
        out.pop("OS-EXT-SRV-ATTR:user_data", None)
    if views.mv(req, "2.57"):
        out["user_data"] = srv.user_data
    return Reply(202, {"server": out})


def _password() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def _image_prepare(req: Req, s: Any, srv: m.Server, data: Any, backup: bool) -> dict[str, Any]:
    """Validate a createImage/createBackup request (read transaction); returns what the
    image service needs, so the image is created outside any compute write transaction."""
    if backup:
        _v(data, obj({"name": NAME, "backup_type": {"type": "string"}, "rotation": {"type": ["integer", "string"],
                                                                                  "pattern": "^[0-9]+$", "minimum": 0},
                      "metadata": METADATA}, ["name", "backup_type", "rotation"]))
        req.ctx.can("os_compute_api:os-create-backup", target(srv))
    else:
        _v(data, obj({"name": NAME, "metadata": METADATA}, ["name"]))
        req.ctx.can("os_compute_api:servers:create_image", target(srv))
    action = "createBackup" if backup else "createImage"
    svc.check_state(srv, action, svc.SIMPLE[action][0])
    deps.image("server snapshots")
    props = {"instance_uuid": srv.uuid, "image_type": "backup" if backup else "snapshot",
             "base_image_ref": srv.image_ref, "user_id": req.ctx.user_id, "image_location": "snapshot",
             "owner_project_name": req.ctx.project_name or "", "owner_user_name": req.ctx.user_name or ""}
    for k, v in (data.get("metadata") or {}).items():
        props[k] = v
    if backup:
        props["backup_type"] = data["backup_type"]
    for k, v in ((srv.system_metadata or {}).get("image_properties") or {}).items():
        props.setdefault(k, v)
    return {"name": data["name"], "props": props, "min_disk": srv.flavor.get("disk", 0),
            "min_ram": (srv.system_metadata or {}).get("image_min_ram") or 0, "action": action}


def _create_image(req: Req, server_id: str, data: Any, backup: bool = False) -> Reply:
    with db.read() as s:
        prep = _image_prepare(req, s, load(s, req), data, backup)
    img_iface = deps.image("server snapshots")
    image = img_iface.create_image(req.ctx, prep["name"], "raw", "bare", prep["props"],
                                   min_disk=prep["min_disk"], min_ram=prep["min_ram"])
    try:
        with db.write() as s:
            srv = load(s, req)
            args = {"image_id": image["id"]}
            if backup:
                args.update(rotation=int(data["rotation"]), backup_type=data["backup_type"])
            svc.start_action(s, req.ctx, srv, prep["action"], args, check_locked=False)
    except Exception:
        img_iface.delete_image(req.ctx, image["id"])
        raise
    if views.mv(req, "2.45"):
        return Reply(202, {"image_id": image["id"]})
    return Reply(202, None, {"location": f"{req.base_url}/image/v2/images/{image['id']}"})


def _console_output(req: Req, s: Any, srv: m.Server, data: Any) -> dict:
    _v(data, obj({"length": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"}}))
    req.ctx.can("os_compute_api:os-console-output", target(srv))
    if not srv.host or srv.vm_state in (st.BUILDING,):
        raise errors.Conflict(f"Instance {srv.uuid} is not ready yet") if srv.vm_state == st.BUILDING else \
            errors.NotFound(f"Guest does not have a console available.")
    out = bus.get().call(f"compute.{srv.host}", "console_output", instance=svc.instance_dict(srv))
    length = (data or {}).get("length")
    if length is not None:
        n = int(length)
        if n < -1:
            raise errors.BadRequest(f"Invalid input for field/attribute length. Value: {length}.")
        if n >= 0:      # upstream's tail: the last n pieces of output.split("\n")
            out = "\n".join(out.split("\n")[-n:]) if n else ""
    return {"output": out}


def _remote_console_legacy(kind: str) -> Any:
    def handler(req: Req, s: Any, srv: m.Server, data: Any) -> Any:
        req.ctx.can("os_compute_api:os-remote-consoles", target(srv))
        if views.mv(req, "2.6"):
            raise errors.NotFound("The resource could not be found.")
        raise errors.BadRequest(f"Unable to get {kind} console: the compute driver of this cloud provides "
                                "no remote consoles (use os-getConsoleOutput for the console log).")
    return handler


def _change_password(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    _v(data, obj({"adminPass": {"type": "string"}}, ["adminPass"]))
    req.ctx.can("os_compute_api:os-admin-password", target(srv))
    svc.start_action(s, req.ctx, srv, "changePassword", {"adminPass": data["adminPass"]})
    return Reply(202)


def _migrate(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    if data is not None and views.mv(req, "2.56"):
        _v(data, obj({"host": {"type": ["string", "null"], "minLength": 1, "maxLength": 255}}))
    req.ctx.can("os_compute_api:os-migrate-server:migrate", target(srv))
    host = (data or {}).get("host") if views.mv(req, "2.56") else None
    if host:
        req.ctx.can("os_compute_api:os-migrate-server:migrate:host", target(srv))
        if host not in hosts.compute_hosts(s):
            raise errors.BadRequest(f"Compute host {host} could not be found.")
        if host == srv.host:
            raise errors.BadRequest(f"The target host can't be the same one.")
    svc.check_lock(req.ctx, srv)
    svc.check_state(srv, "migrate", svc.SIMPLE["migrate"][0])
    mig = act.new_migration(s, srv, "migration")
    svc.start_action(s, req.ctx, srv, "migrate", {"migration_uuid": mig.uuid, "host": host,
                                                  "old_vm_state": srv.vm_state})
    return Reply(202)


def _live_migrate(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    props = {"host": {"type": ["string", "null"]}, "block_migration": ({"oneOf": [BOOL, {"enum": ["auto"]}]}
                                                                      if views.mv(req, "2.25") else BOOL)}
    if not views.mv(req, "2.25"):
        props["disk_over_commit"] = BOOL
    if views.mv(req, "2.30") and not views.mv(req, "2.68"):
        props["force"] = BOOL
    _v(data, obj(props, ["block_migration", "host"] if not views.mv(req, "2.25") else ["block_migration"]))
    req.ctx.can("os_compute_api:os-migrate-server:migrate_live", target(srv))
    host = data.get("host")
    if host and host not in hosts.compute_hosts(s):
        raise errors.BadRequest(f"Compute host {host} could not be found.")
    if host and host == srv.host:
        raise errors.BadRequest("The target host can't be the same one.")
    svc.check_lock(req.ctx, srv)
    svc.check_state(srv, "os-migrateLive", svc.SIMPLE["live-migration"][0])
    mig = act.new_migration(s, srv, "live-migration", status="accepted")
    svc.start_action(s, req.ctx, srv, "live-migration", {"migration_uuid": mig.uuid, "host": host})
    return Reply(202)


def _evacuate(req: Req, s: Any, srv: m.Server, data: Any) -> Any:
    props: dict[str, Any] = {"host": {"type": "string", "minLength": 1, "maxLength": 255},
                             "adminPass": {"type": "string"}}
    if not views.mv(req, "2.14"):
        props["onSharedStorage"] = BOOL
    if views.mv(req, "2.29") and not views.mv(req, "2.68"):
        props["force"] = BOOL
    _v(data, obj(props, ["onSharedStorage"] if not views.mv(req, "2.14") else None))
    req.ctx.can("os_compute_api:os-evacuate", target(srv))
    host = data.get("host")
    if host and host not in hosts.compute_hosts(s):
        raise errors.NotFound(f"Compute host {host} could not be found.")
    svcs = hosts.services(s, host=srv.host, binary="nova-compute") if srv.host else []
    if svcs and hosts.is_up(svcs[0]):
        raise errors.BadRequest(f"Compute service of {srv.host} is still in use.")
    if host and host == srv.host:
        raise errors.BadRequest("The target host can't be the same one.")
    svc.check_state(srv, "evacuate", svc.SIMPLE["evacuate"][0], None)
    mig = act.new_migration(s, srv, "evacuation", dest=host, status="accepted")
    password = data.get("adminPass") or _password()
    svc.start_action(s, req.ctx, srv, "evacuate", {"migration_uuid": mig.uuid, "host": host, "adminPass": password,
                                                   "keep_stopped": views.mv(req, "2.95")}, check_locked=False)
    if views.mv(req, "2.14"):
        return Reply(200, None)
    return Reply(200, {"adminPass": password})


def _shelve(req: Req, server_id: str, data: Any) -> Reply:
    with db.read() as s:
        srv = load(s, req)
        req.ctx.can("os_compute_api:os-shelve:shelve", target(srv))
        svc.check_lock(req.ctx, srv)
        svc.check_state(srv, "shelve", svc.SIMPLE["shelve"][0])
        name, image_ref = srv.name, srv.image_ref
    image_id = None
    if image_ref and deps.available("image"):
        img = deps.image().create_image(req.ctx, f"{name}-shelved", "raw", "bare",
                                        {"instance_uuid": server_id, "image_type": "snapshot",
                                         "base_image_ref": image_ref})
        image_id = img["id"]
    try:
        with db.write() as s:
            svc.start_action(s, req.ctx, load(s, req), "shelve", {"image_id": image_id})
    except Exception:
        if image_id:
            deps.image().delete_image(req.ctx, image_id)
        raise
    return Reply(202)


def _unshelve(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    if data is not None:
        if views.mv(req, "2.91"):
            _v(data, {"oneOf": [obj({"availability_zone": {"type": ["string", "null"]},
                                     "host": {"type": "string"}}), {"type": "null"}]})
        elif views.mv(req, "2.77"):
            _v(data, {"oneOf": [obj({"availability_zone": {"type": "string"}}, ["availability_zone"]),
                                {"type": "null"}]})
    req.ctx.can("os_compute_api:os-shelve:unshelve", target(srv))
    args = dict(data or {}) if views.mv(req, "2.77") else {}
    if args.get("host"):
        req.ctx.can("os_compute_api:os-shelve:unshelve_to_host", target(srv))
        if srv.vm_state != st.SHELVED_OFFLOADED:
            raise errors.Conflict(f"The server status must be SHELVED_OFFLOADED to unshelve to a host.")
    if args.get("availability_zone"):
        if args["availability_zone"] not in hosts.availability_zones(s):
            raise errors.BadRequest("The requested availability zone is not available")
        if srv.vm_state != st.SHELVED_OFFLOADED:
            raise errors.Conflict("The server status must be SHELVED_OFFLOADED to unshelve with an AZ.")
    svc.check_lock(req.ctx, srv)
    svc.check_state(srv, "unshelve", svc.SIMPLE["unshelve"][0])
    svc.start_action(s, req.ctx, srv, "unshelve", args)
    return Reply(202)


def _rescue(req: Req, s: Any, srv: m.Server, data: Any) -> Any:
    _v(data, {"oneOf": [obj({"adminPass": {"type": "string"}, "rescue_image_ref": {"type": "string"}}),
                        {"type": "null"}]})
    req.ctx.can("os_compute_api:os-rescue", target(srv))
    if not srv.image_ref and not views.mv(req, "2.87"):
        raise errors.BadRequest("Cannot rescue a volume-backed instance")
    need_capability(srv, "rescue", "rescue")
    password = (data or {}).get("adminPass") or _password()
    svc.start_action(s, req.ctx, srv, "rescue", {"adminPass": password,
                                                 "rescue_image_ref": (data or {}).get("rescue_image_ref")})
    return Reply(200, {"adminPass": password})


def _reset_state(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    _v(data, obj({"state": {"type": "string", "enum": ["active", "error"]}}, ["state"]))
    req.ctx.can("os_compute_api:os-admin-actions:reset_state", target(srv))
    svc.record_action(s, req.ctx, srv.uuid, "resetState", srv.project_id)
    srv.vm_state, srv.task_state = data["state"], None
    srv.updated_at = utcnow()
    return Reply(202)


def _inject_network_info(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    req.ctx.can("os_compute_api:os-admin-actions:inject_network_info", target(srv))
    svc.record_action(s, req.ctx, srv.uuid, "injectNetworkInfo", srv.project_id)
    return Reply(202)


def _crash_dump(req: Req, s: Any, srv: m.Server, data: Any) -> Reply:
    if not views.mv(req, "2.17"):
        raise errors.BadRequest("Invalid action: trigger_crash_dump")
    req.ctx.can("os_compute_api:servers:trigger_crash_dump", target(srv))
    svc.check_lock(req.ctx, srv)
    if srv.power_state != st.RUNNING:
        raise errors.Conflict(f"Instance {srv.uuid} is not running.")
    svc.start_action(s, req.ctx, srv, "trigger_crash_dump")
    return Reply(202)


ACTIONS = {
    "os-stop": _simple("os_compute_api:servers:stop", "stop"),
    "os-start": _simple("os_compute_api:servers:start", "start"),
    "reboot": _reboot,
    "pause": _simple("os_compute_api:os-pause-server:pause", "pause"),
    "unpause": _simple("os_compute_api:os-pause-server:unpause", "unpause"),
    "suspend": _simple("os_compute_api:os-suspend-server:suspend", "suspend"),
    "resume": _simple("os_compute_api:os-suspend-server:resume", "resume"),
    "lock": _lock, "unlock": _unlock, "resize": _resize, "confirmResize": _confirm, "revertResize": _revert,
    "rebuild": _rebuild,
    "os-getConsoleOutput": _console_output,
    "os-getVNCConsole": _remote_console_legacy("vnc"), "os-getSPICEConsole": _remote_console_legacy("spice"),
    "os-getSerialConsole": _remote_console_legacy("serial"), "os-getRDPConsole": _remote_console_legacy("rdp"),
    "changePassword": _change_password, "migrate": _migrate, "os-migrateLive": _live_migrate,
    "evacuate": _evacuate,
    "shelveOffload": _simple("os_compute_api:os-shelve:shelve_offload", "shelveOffload"),
    "unshelve": _unshelve, "rescue": _rescue, "unrescue": _simple("os_compute_api:os-unrescue", "unrescue"),
    "os-resetState": _reset_state, "injectNetworkInfo": _inject_network_info,
    "trigger_crash_dump": _crash_dump,
    "forceDelete": None, "restore": None,
}


OUTSIDE = {"createImage": _create_image,
           "createBackup": lambda req, sid, data: _create_image(req, sid, data, backup=True),
           "shelve": _shelve,
           "addSecurityGroup": lambda req, sid, data: proxies.server_security_group(req, sid, data, True),
           "removeSecurityGroup": lambda req, sid, data: proxies.server_security_group(req, sid, data, False),
           "addFloatingIp": lambda req, sid, data: proxies.server_floating_ip(req, sid, data, True),
           "removeFloatingIp": lambda req, sid, data: proxies.server_floating_ip(req, sid, data, False)}


def action(req: Req) -> Any:
    data = req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise errors.BadRequest("Malformed request body: exactly one action is required.")
    name, args = next(iter(data.items()))
    if name not in ACTIONS and name not in OUTSIDE:
        raise errors.BadRequest(f"There is no such action: {name}")
    if name in OUTSIDE:
        return OUTSIDE[name](req, req.params["server_id"], args)
    if name in ("forceDelete", "restore"):
        with db.write() as s:
            srv = load(s, req)
            if name == "forceDelete":
                req.ctx.can("os_compute_api:os-deferred-delete:force", target(srv))
                svc.delete_server(s, req.ctx, srv, force=True)
            else:
                req.ctx.can("os_compute_api:os-deferred-delete:restore", target(srv))
                svc.restore_server(s, req.ctx, srv)
        return Reply(202)
    with db.write() as s:
        srv = load(s, req)
        return ACTIONS[name](req, s, srv, args)
