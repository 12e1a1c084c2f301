"""Compute business rules: servers (create/list/show/update/delete), action state machines,
instance actions, quotas on create. No HTTP, no driver calls: long work goes to tasks.py."""
from __future__ import annotations

import base64
import binascii
import logging
import datetime as dt
import re
import secrets
import string
import uuid
from typing import Any

from sqlalchemy import or_, select

from onestack import errors, tasks
from onestack.compute import conf as cconf
from onestack.compute import deps, flavors, groups, hosts, keypairs, quotas
from onestack.compute import models as m
from onestack.compute import states as st
from onestack.compute.errors import InvalidState, Locked, QuotaExceeded, ServerNotFound
from onestack.db.base import utcnow

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ lookup
def get_server(s: Any, ctx: Any, server_id: str, all_projects: bool = False) -> m.Server:
    srv = s.get(m.Server, server_id)
    if srv is None or srv.deleted:
        raise ServerNotFound(id=server_id)
    if not all_projects and srv.project_id != ctx.project_id and not ctx.is_admin:
        raise ServerNotFound(id=server_id)
    return srv


def instance_name(srv: m.Server) -> str:
    return f"instance-{int(srv.uuid.replace('-', '')[:8], 16):08x}"


def instance_dict(srv: m.Server) -> dict[str, Any]:
    """What the agent/driver gets (JSON only)."""
    return {"uuid": srv.uuid, "name": instance_name(srv), "hostname": srv.hostname, "display_name": srv.name,
            "flavor": srv.flavor, "image_ref": srv.image_ref, "metadata": srv.metadata_ or {},
            "user_data": srv.user_data, "key_data": srv.key_data, "project_id": srv.project_id,
            "config_drive": srv.config_drive}


def hostname_from(name: str) -> str:
    h = re.sub(r"[^a-zA-Z0-9-]+", "-", name.lower()).strip("-.")
    return (h[:63].rstrip("-")) or "server"


# ------------------------------------------------------------------ instance actions
def record_action(s: Any, ctx: Any, srv_uuid: str, action: str, project_id: str | None = None) -> m.InstanceAction:
    a = m.InstanceAction(instance_uuid=srv_uuid, action=action, request_id=ctx.request_id,
                         user_id=ctx.user_id, project_id=project_id or ctx.project_id, start_time=utcnow(),
                         updated_at=utcnow())
    s.add(a)
    s.flush()
    return a


def start_event(s: Any, action_id: int, event: str, host: str | None) -> int:
    e = m.InstanceActionEvent(action_id=action_id, event=event, start_time=utcnow(), host=host)
    s.add(e)
    s.flush()
    return e.id


def finish_event(s: Any, action_id: int, event: str, result: str, host: str | None = None,
                 tb: str | None = None, details: str | None = None) -> None:
    e = s.scalar(select(m.InstanceActionEvent).where(m.InstanceActionEvent.action_id == action_id,
                                                     m.InstanceActionEvent.event == event))
    if e is None:
        e = m.InstanceActionEvent(action_id=action_id, event=event, start_time=utcnow(), host=host)
        s.add(e)
    e.finish_time, e.result, e.traceback, e.details = utcnow(), result, tb, details
    if host:
        e.host = host
    a = s.get(m.InstanceAction, action_id)
    if a is not None:
        a.updated_at = utcnow()
        if result == "Error":
            a.message = "Error"


def set_fault(srv: m.Server, code: int, message: str, details: str = "") -> None:
    srv.fault = {"code": code, "message": message[:255], "details": details,
                 "created": utcnow().isoformat()}


# ------------------------------------------------------------------ create
def _decode_user_data(data: str | None) -> None:
    if data is None:
        return
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    if len(data) > cconf.get().max_user_data_bytes:
        raise errors.BadRequest(f"User data too large. User data must be no larger than "
                                f"{cconf.get().max_user_data_bytes} bytes once base64 encoded. Your data is "
                                f"{len(data)} bytes")
    del raw


def _parse_az(s: Any, ctx: Any, az: str | None) -> tuple[str | None, str | None, str | None]:
    if not az:
        return None, None, None
    zone, _, rest = az.partition(":")
    host, _, node = rest.partition(":")
    if host or node:
        ctx.can("os_compute_api:servers:create:forced_host", {"project_id": ctx.project_id})
    zones = hosts.availability_zones(s)
    if zone and zone not in zones:
        raise errors.BadRequest(f"The requested availability zone is not available")
    if host and host not in hosts.compute_hosts(s):
        raise errors.BadRequest(f"Compute host {host} could not be found.")
    return zone or None, host or None, node or None


def _check_image(ctx: Any, image_ref: str, flavor: dict[str, Any], bfv: bool) -> dict[str, Any]:
    img_iface = deps.image()
    try:
        img = img_iface.get_image(ctx, image_ref)
    except errors.NotFound:
        raise errors.BadRequest(f"Image {image_ref} could not be found.") from None
    if img.get("status") != "active":
        raise errors.BadRequest(f"Image {image_ref} is not active.")
    if (img.get("min_ram") or 0) > flavor["ram"]:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if not bfv and flavor["disk"] > 0:
        if (img.get("min_disk") or 0) > flavor["disk"]:
            raise errors.BadRequest("Flavor's disk is too small for requested image. Flavor disk is "
                                    f"{flavor['disk'] * 1024 ** 3} bytes, minimum disk is "
                                    f"{(img.get('min_disk') or 0) * 1024 ** 3} bytes.")
        size = img.get("virtual_size") or img.get("size") or 0
        if size > flavor["disk"] * 1024 ** 3:
            raise errors.BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is "
                                    f"{flavor['disk'] * 1024 ** 3} bytes, image is {size} bytes.")
    return img


def _quota_error(over: dict[str, Any]) -> QuotaExceeded:
    res = over["resource"]
    return QuotaExceeded(f"Quota exceeded for {res}: Requested {over['requested']}, but already used "
                         f"{over['used']} of {over['limit']} {res}")


def trusted_certs(body: dict[str, Any], volume_backed: bool, what: str) -> list[str] | None:
    """2.63 trusted_image_certificates: recorded and shown; no driver here verifies image
    signatures, so they are ignored with a warning (upstream: 400 for volume-backed servers)."""
    certs = body.get("trusted_image_certificates")
    if not certs:
        return None
    if volume_backed:
        raise errors.BadRequest(f"Image certificate validation is not supported when {what}.")
    log.warning("trusted_image_certificates %s recorded but not verified: the %s driver does not "
                "support image signature verification", certs, cconf.resolved_driver())
    return list(certs)


def create_servers(s: Any, ctx: Any, body: dict[str, Any], version: Any) -> tuple[list[m.Server], str, str | None]:
    """Validate and write N servers in BUILD with their build tasks. Returns (servers,
    reservation_id, admin_password)."""
    c = cconf.get()
    try:
        flavor_row = flavors.get(s, str(body["flavorRef"]).rstrip("/").split("/")[-1], ctx)
    except errors.NotFound:
        raise errors.BadRequest(f"Flavor {body['flavorRef']} could not be found.") from None
    if flavor_row.disabled:
        raise errors.BadRequest(f"Flavor {flavor_row.flavorid} is disabled.")
    flavor = flavors.snapshot(s, flavor_row)
    bdms = list(body.get("block_device_mapping_v2") or [])
    for legacy in body.get("block_device_mapping") or []:
        bdms.append({"source_type": "volume", "destination_type": "volume", "boot_index": 0 if
                     legacy.get("device_name", "").endswith("da") else None,
                     "uuid": legacy.get("volume_id"), "delete_on_termination":
                     legacy.get("delete_on_termination", False), "device_name": legacy.get("device_name")})
    for b in bdms:      # the schema lets numbers come as strings (the CLI sends them so)
        for key in ("volume_size", "boot_index"):
            if isinstance(b.get(key), str) and b[key].lstrip("-").isdigit():
                b[key] = int(b[key])
    boot_bdm = next((b for b in bdms if str(b.get("boot_index")) == "0"), None)
    bfv = boot_bdm is not None and boot_bdm.get("destination_type") == "volume"
    image_ref = str(body.get("imageRef") or "").rstrip("/").split("/")[-1]
    certs = trusted_certs(body, bfv, "booting from volume")
    if boot_bdm is not None and boot_bdm.get("source_type") == "image" and not image_ref:
        image_ref = boot_bdm.get("uuid") or ""
    image: dict[str, Any] = {}
    if image_ref:
        image = _check_image(ctx, image_ref, flavor, bfv)
    elif not bfv:
        raise errors.BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/"
                                "block device mapping combination is not valid.") if bdms else \
            errors.BadRequest("Missing imageRef attribute")
    if bdms:
        vol_iface = deps.volume("block device mappings")
        for b in bdms:
            if b.get("source_type") == "volume" and not b.get("uuid"):
                raise errors.BadRequest("Block Device Mapping is Invalid: missing volume uuid.")
            if b.get("source_type") == "volume":
                _check_bdm_volume(vol_iface, ctx, b)
    if bfv and boot_bdm.get("source_type") == "image" and not image_ref:
        raise errors.BadRequest("Block Device Mapping is Invalid: missing image uuid.")
    networks = body.get("networks", "auto" if not version.matches("2.37") else None)
    if networks is None:
        networks = "auto"
    if networks != "none":
        deps.network(f"networks {networks!r}" if isinstance(networks, str) else "requested networks")
    sec_groups = [g["name"] for g in body.get("security_groups") or []] or ["default"]
    key_data = None
    key_name = body.get("key_name")
    if key_name:
        try:
            kp = keypairs.get(s, ctx.user_id, key_name)
        except errors.NotFound:
            raise errors.BadRequest("Invalid key_name provided.") from None
        key_data = kp.public_key
    _decode_user_data(body.get("user_data"))
    meta = body.get("metadata") or {}
    lim = quotas.limits(s, ctx.project_id, ctx.user_id)
    if lim["metadata_items"] >= 0 and len(meta) > lim["metadata_items"]:
        raise QuotaExceeded(f"Quota exceeded for metadata_items: Requested {len(meta)}, but already used 0 of "
                            f"{lim['metadata_items']} metadata_items")
    zone, force_host, force_node = _parse_az(s, ctx, body.get("availability_zone"))
    if body.get("host") or body.get("hypervisor_hostname"):
        ctx.can("compute:servers:create:requested_destination", {"project_id": ctx.project_id})
        if body.get("host") and body["host"] not in hosts.compute_hosts(s):
            raise errors.BadRequest(f"Compute host {body['host']} could not be found.")
        if body.get("hypervisor_hostname") and body["hypervisor_hostname"] not in \
                [n.hypervisor_hostname for n in hosts.nodes(s)]:
            raise errors.BadRequest(f"Compute host {body['hypervisor_hostname']} could not be found.")
        force_host = body.get("host") or force_host
        force_node = body.get("hypervisor_hostname") or force_node
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    group = None
    if hints.get("group"):
        try:
            group = groups.get(s, hints["group"], ctx.project_id)
        except errors.NotFound:
            raise errors.BadRequest(f"Invalid server group {hints['group']}") from None
    min_count = int(body.get("min_count", 1))
    max_count = int(body.get("max_count", min_count))
    if max_count < min_count:
        raise errors.BadRequest("min_count must be <= max_count")
    if isinstance(networks, list) and max_count > 1 and any(n.get("port") for n in networks):
        raise errors.BadRequest("Multiple instances cannot be created with a port specified.")
    # quota: as many as fit between min and max, checked inside this write transaction
    count = max_count
    while True:
        over = quotas.check_servers(s, ctx.project_id, ctx.user_id, count, flavor["vcpus"], flavor["ram"])
        if over is None:
            break
        if count <= min_count:
            raise _quota_error(over)
        count = min_count if count - 1 < min_count else count - 1
    if group is not None:
        groups.add_members(s, group, [], lim["server_group_members"])
        current = groups.members(s, group)
        if lim["server_group_members"] >= 0 and len(current) + count > lim["server_group_members"]:
            raise QuotaExceeded("Quota exceeded, too many servers in group")
    reservation = "r-" + secrets.token_hex(4)
    admin_pass = body.get("adminPass") or "".join(secrets.choice(string.ascii_letters + string.digits)
                                                  for _ in range(12))
    name = body["name"]
    created = []
    now = utcnow()
    for i in range(count):
        sid = str(uuid.uuid4())
        display = name if count == 1 else f"{name}-{i + 1}"
        host_name = body.get("hostname") or hostname_from(display)
        if body.get("hostname") and count > 1:
            host_name = f"{body['hostname']}-{i + 1}"
        srv = m.Server(
            uuid=sid, project_id=ctx.project_id, user_id=ctx.user_id, name=display, hostname=host_name,
            description=body.get("description"), image_ref=image_ref if not bfv else "",
            flavor=flavor, flavor_id=flavor["id"], key_name=key_name, key_data=key_data,
            user_data=body.get("user_data"), metadata_=dict(meta), system_metadata={
                "image_properties": (image.get("properties") or {}), "image_name": image.get("name"),
                "image_min_disk": image.get("min_disk"), "image_min_ram": image.get("min_ram"),
                "boot_image": image_ref, "trusted_image_certificates": certs},
            tags=list(dict.fromkeys(body.get("tags") or [])), vm_state=st.BUILDING, task_state="scheduling",
            power_state=st.NOSTATE, availability_zone=zone, pinned_az=zone,
            access_ip_v4=body.get("accessIPv4"), access_ip_v6=body.get("accessIPv6"),
            config_drive="True" if body.get("config_drive") in (True, "True", "true", "1") else "",
            disk_config=body.get("OS-DCF:diskConfig", "MANUAL"), reservation_id=reservation,
            launch_index=i, security_groups=sec_groups, requested_networks=networks, block_devices=bdms,
            scheduler_hints=hints, created_at=now, updated_at=now, cell="cell1", root_device_name="/dev/vda")
        s.add(srv)
        s.add(m.InstanceMapping(instance_uuid=sid, cell_name="cell1", project_id=ctx.project_id,
                                user_id=ctx.user_id))
        created.append(srv)
    s.flush()
    if group is not None:
        groups.add_members(s, group, [x.uuid for x in created], -1)
    spec_base = {"az": zone, "force_hosts": [force_host] if force_host else [],
                 "force_nodes": [force_node] if force_node else [],
                 "group": {"uuid": group.uuid, "policy": group.policy, "rules": group.rules or {}} if group else None,
                 "same_host": None, "different_host": None}
    for kind in ("same_host", "different_host"):
        if hints.get(kind):
            ids = hints[kind] if isinstance(hints[kind], list) else [hints[kind]]
            spec_base[kind] = [h for h in s.scalars(select(m.Server.host).where(m.Server.uuid.in_(ids)))
                               if h]
    for srv in created:
        a = record_action(s, ctx, srv.uuid, "create")
        tasks.submit(s, "compute.build_server", resource_type="server", resource_id=srv.uuid,
                     project_id=ctx.project_id,
                     payload={"action_id": a.id, "spec": spec_base, "admin_password": admin_pass,
                              "request_id": ctx.request_id, "user_id": ctx.user_id,
                              "roles": list(ctx.roles)})
    return created, reservation, admin_pass


# ------------------------------------------------------------------ list
def list_servers(s: Any, ctx: Any, f: dict[str, Any], sort: list[tuple[str, str]], limit: int | None,
                 marker: str | None, brief: bool = False) -> list[m.Server]:
    """``brief``: the rows may be read-only (uuid, name) tuples (the index view needs no more)."""
    stmt = select(m.Server)
    if f.get("deleted"):
        stmt = stmt.where(m.Server.deleted.is_(True))
    else:
        stmt = stmt.where(m.Server.deleted.is_(False))
        # upstream: soft-deleted servers are listed only when asked for (status or soft_deleted)
        if not any(str(v).upper() == "SOFT_DELETED" for v in f.get("status") or ()) and \
                str(f.get("soft_deleted", "")).lower() not in ("1", "true", "yes", "on"):
            stmt = stmt.where(m.Server.vm_state != st.SOFT_DELETED)
    if f.get("project_id"):
        stmt = stmt.where(m.Server.project_id == f["project_id"])
    if f.get("user_id"):
        stmt = stmt.where(m.Server.user_id == f["user_id"])
    if f.get("status"):
        vms, tss = [], []
        for value in f["status"]:
            entry = st.STATUS_FILTER.get(value.upper())
            if entry is None:
                return [] if value.upper() != "DELETED" else []
            if entry[0]:
                vms += entry[0]
            if entry[1]:
                tss += entry[1]
        clauses = []
        if vms:
            clauses.append(m.Server.vm_state.in_(vms))
        if tss:
            clauses.append(m.Server.task_state.in_(tss))
        stmt = stmt.where(or_(*clauses))
    for key, col in (("host", m.Server.host), ("node", m.Server.node), ("flavor", m.Server.flavor_id),
                     ("image", m.Server.image_ref), ("reservation_id", m.Server.reservation_id),
                     ("availability_zone", m.Server.availability_zone), ("vm_state", m.Server.vm_state),
                     ("task_state", m.Server.task_state), ("power_state", m.Server.power_state),
                     ("access_ip_v4", m.Server.access_ip_v4), ("access_ip_v6", m.Server.access_ip_v6),
                     ("config_drive", m.Server.config_drive), ("key_name", m.Server.key_name),
                     ("launch_index", m.Server.launch_index)):
        if f.get(key) is not None:
            stmt = stmt.where(col == f[key])
    if f.get("locked") is not None:
        stmt = stmt.where(m.Server.locked.is_(f["locked"]))
    if f.get("changes-since"):
        stmt = stmt.where(m.Server.updated_at >= f["changes-since"])
    if f.get("changes-before"):
        stmt = stmt.where(m.Server.updated_at <= f["changes-before"])
    if f.get("launched_at"):
        stmt = stmt.where(m.Server.launched_at >= f["launched_at"])
    if f.get("terminated_at"):
        stmt = stmt.where(m.Server.terminated_at >= f["terminated_at"])
    if f.get("created_at"):
        stmt = stmt.where(m.Server.created_at >= f["created_at"])
    if f.get("changes-since") and not f.get("deleted"):
        # changes-since also returns deleted servers (upstream)
        stmt = stmt.where(or_(m.Server.deleted.is_(False), m.Server.deleted.is_(True)))
    sort = list(sort) + [(k, sort[0][1] if sort else "desc") for k in ("created_at", "uuid")
                         if k not in {x[0] for x in sort}]   # upstream's tie-breakers
    if not (f.get("changes-since") and not f.get("deleted")) and not any(f.get(k) for k in _PY_FILTERS):
        return _list_sql(s, stmt, sort, limit, marker, brief)
    rows = list(s.scalars(stmt))
    if f.get("changes-since") and not f.get("deleted"):
        more = s.scalars(select(m.Server).where(m.Server.deleted.is_(True),
                                                m.Server.updated_at >= f["changes-since"],
                                                *([m.Server.project_id == f["project_id"]]
                                                  if f.get("project_id") else [])))
        rows += list(more)
    out = []
    for srv in rows:
        if f.get("name") and not _regex(f["name"], srv.name):
            continue
        for key, attr in (("display_name", "name"), ("hostname", "hostname"), ("description", "description")):
            if f.get(key) and not _regex(f[key], getattr(srv, attr) or ""):
                break
        else:
            if f.get("tags") and not set(f["tags"]) <= set(srv.tags or []):
                continue
            if f.get("tags-any") and not set(f["tags-any"]) & set(srv.tags or []):
                continue
            if f.get("not-tags") and set(f["not-tags"]) <= set(srv.tags or []):
                continue
            if f.get("not-tags-any") and set(f["not-tags-any"]) & set(srv.tags or []):
                continue
            if f.get("ip") and not _ip_match(srv, f["ip"], 4):
                continue
            if f.get("ip6") and not _ip_match(srv, f["ip6"], 6):
                continue
            out.append(srv)
    for key, d in reversed(sort):
        out.sort(key=lambda x: _sort_value(x, key), reverse=(d == "desc"))
    if marker is not None:
        ids = [x.uuid for x in out]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        out = out[ids.index(marker) + 1:]
    if limit is not None:
        out = out[:limit]
    return out


_PY_FILTERS = ("name", "display_name", "hostname", "description", "tags", "tags-any", "not-tags",
               "not-tags-any", "ip", "ip6")


def _list_sql(s: Any, stmt: Any, sort: list[tuple[str, str]], limit: int | None,
              marker: str | None, brief: bool = False) -> list[Any]:
    """Filters that SQL can answer: order, marker and limit in SQL too, so a page of 1000 out of
    10k servers loads 1000 rows (not 10k objects sorted in Python). Same order as _sort_value:
    NULL lowest, datetimes and strings in their stored (ISO, code point) order."""
    cols = []
    for key, d in sort:
        col = getattr(m.Server, _SORT_ATTR.get(key, key))
        cols.append(col.desc() if d == "desc" else col.asc())
    if brief:
        q = stmt.with_only_columns(m.Server.uuid, m.Server.name).order_by(*cols)
        if marker is None:
            return list(s.execute(q.limit(limit) if limit is not None else q))
        rows = list(s.execute(q))
        at = next((i for i, r in enumerate(rows) if r.uuid == marker), None)
        if at is None:
            raise errors.BadRequest(f"marker [{marker}] not found")
        return rows[at + 1:at + 1 + limit] if limit is not None else rows[at + 1:]
    ids_stmt = stmt.with_only_columns(m.Server.uuid).order_by(*cols)
    if marker is None:
        ids = list(s.scalars(ids_stmt.limit(limit) if limit is not None else ids_stmt))
    else:
        ids = list(s.scalars(ids_stmt))
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        ids = ids[ids.index(marker) + 1:]
        if limit is not None:
            ids = ids[:limit]
    got: dict[str, m.Server] = {}
    for i in range(0, len(ids), 500):
        for srv in s.scalars(select(m.Server).where(m.Server.uuid.in_(ids[i:i + 500]))):
            got[srv.uuid] = srv
    return [got[u] for u in ids if u in got]


_SORT_ATTR = {"display_name": "name", "created_at": "created_at", "updated_at": "updated_at",
              "uuid": "uuid", "vm_state": "vm_state", "task_state": "task_state", "power_state": "power_state",
              "host": "host", "node": "node", "project_id": "project_id", "user_id": "user_id",
              "launched_at": "launched_at", "terminated_at": "terminated_at", "hostname": "hostname",
              "key_name": "key_name", "availability_zone": "availability_zone", "display_description":
              "description", "locked": "locked", "access_ip_v4": "access_ip_v4", "access_ip_v6": "access_ip_v6",
              "config_drive": "config_drive", "image_ref": "image_ref", "instance_type_id": "flavor_id",
              "launch_index": "launch_index", "kernel_id": "uuid", "ramdisk_id": "uuid",
              "root_device_name": "root_device_name", "progress": "progress", "id": "created_at"}
SORT_KEYS = tuple(_SORT_ATTR)


def _sort_value(srv: m.Server, key: str) -> Any:
    v = getattr(srv, _SORT_ATTR.get(key, key), None)
    if v is None:
        return (0, "")
    if isinstance(v, dt.datetime):
        return (1, v.isoformat())
    return (1, v if not isinstance(v, bool) else int(v))


def _regex(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value or "") is not None
    except re.error:
        return pattern in (value or "")


def _ip_match(srv: m.Server, pattern: str, family: int) -> bool:
    for ports in (srv.addresses_cache or {}).values():
        for a in ports:
            if a.get("version") == family and _regex(pattern, a.get("addr", "")):
                return True
    return False


# ------------------------------------------------------------------ update / delete
def check_security_groups(ctx: Any, body: dict[str, Any]) -> None:
    """Requested security groups must exist in the project (upstream: 400 at create time).
    Runs before the create transaction (the network service may create the default group)."""
    wanted = [g.get("name") for g in body.get("security_groups") or [] if isinstance(g, dict)]
    if not wanted or body.get("networks") == "none" or not deps.available("network"):
        return
    have = set()
    for g in deps.network().list_security_groups(ctx):
        have.update((g["id"], g["name"]))
    for name in wanted:
        if name not in have:
            raise errors.BadRequest(f"Security group {name} not found for project {ctx.project_id}.")


def _check_bdm_volume(vol_iface: Any, ctx: Any, bdm: dict[str, Any]) -> None:
    """An existing volume in a block device mapping: visible, attachable, bootable when it is the
    root disk (upstream: 400 InvalidBDM*)."""
    try:
        v = vol_iface.get_volume(ctx, bdm["uuid"])
    except errors.NotFound:
        raise errors.BadRequest(f"Block Device Mapping is Invalid: failed to get volume {bdm['uuid']}.") from None
    if v["status"] != "available" and not (v["multiattach"] and v["status"] == "in-use"):
        raise errors.BadRequest(f"Block Device Mapping is Invalid: volume {v['id']} status is {v['status']}; "
                                "it must be available.")
    if str(bdm.get("boot_index")) == "0" and not v["bootable"]:
        raise errors.BadRequest(f"Block Device {v['id']} is not bootable.")


def set_pinned_az(srv: m.Server, zone: str | None) -> None:
    """2.104: unpin (None) or re-pin to the zone the server is in; anything else is a 409."""
    if zone is None or zone == srv.pinned_az:
        srv.pinned_az = zone
        return
    if srv.pinned_az is not None:
        raise errors.Conflict(f"Server {srv.uuid} is pinned to availability zone {srv.pinned_az}; unpin it "
                              f"before pinning it to {zone}.")
    if zone != srv.availability_zone:
        raise errors.Conflict(f"Server {srv.uuid} is in availability zone {srv.availability_zone}, not {zone}; "
                              "it can only be pinned to the zone it is in.")
    srv.pinned_az = zone


def check_lock(ctx: Any, srv: m.Server) -> None:
    if srv.locked and not (ctx.is_admin or ctx.is_internal):
        raise Locked(id=srv.uuid)


def check_state(srv: m.Server, action: str, vm_states: tuple[str, ...] | None,
                task_states: tuple[Any, ...] | None = (None,)) -> None:
    if vm_states is not None and srv.vm_state not in vm_states:
        raise InvalidState(action=action, id=srv.uuid, attr="vm_state", state=srv.vm_state)
    if task_states is not None and srv.task_state not in task_states:
        raise InvalidState(action=action, id=srv.uuid, attr="task_state", state=srv.task_state)


def delete_server(s: Any, ctx: Any, srv: m.Server, force: bool = False) -> None:
    if not force:
        check_lock(ctx, srv)
    if srv.task_state == "deleting":
        return
    if not force and srv.task_state == "soft-deleting":
        return
    if not force and srv.host and srv.vm_state != st.SOFT_DELETED and \
            cconf.get().reclaim_instance_interval > 0:
        soft_delete(s, ctx, srv)
        return
    a = record_action(s, ctx, srv.uuid, "delete", srv.project_id)
    srv.task_state = "deleting"
    srv.updated_at = utcnow()
    tasks.submit(s, "compute.delete_server", resource_type="server", resource_id=srv.uuid,
                 project_id=srv.project_id, payload={"action_id": a.id})


def soft_delete(s: Any, ctx: Any, srv: m.Server) -> None:
    """Deferred delete: power off and keep the server SOFT_DELETED until restore or reclaim."""
    a = record_action(s, ctx, srv.uuid, "delete", srv.project_id)
    srv.task_state = "soft-deleting"
    srv.deleted_at = srv.updated_at = utcnow()
    tasks.submit(s, "compute.server_action", resource_type="server", resource_id=srv.uuid,
                 project_id=srv.project_id, payload={"action": "soft_delete", "args": {}, "action_id": a.id})


def restore_server(s: Any, ctx: Any, srv: m.Server) -> None:
    if srv.vm_state != st.SOFT_DELETED or srv.task_state is not None:
        raise InvalidState(action="restore", id=srv.uuid, attr="vm_state", state=srv.vm_state)
    a = record_action(s, ctx, srv.uuid, "restore", srv.project_id)
    srv.task_state = "restoring"
    srv.deleted_at = None
    srv.updated_at = utcnow()
    tasks.submit(s, "compute.server_action", resource_type="server", resource_id=srv.uuid,
                 project_id=srv.project_id, payload={"action": "restore", "args": {}, "action_id": a.id})


def reclaim_soft_deleted() -> int:
    """Periodic: hard-delete the servers soft-deleted longer than reclaim_instance_interval ago."""
    interval = cconf.get().reclaim_instance_interval
    if interval <= 0:
        return 0
    from onestack import db
    from onestack.context import RequestContext
    cutoff = utcnow() - dt.timedelta(seconds=interval)
    n = 0
    with db.write() as s:
        for srv in s.scalars(select(m.Server).where(m.Server.deleted.is_(False),
                                                    m.Server.vm_state == st.SOFT_DELETED,
                                                    m.Server.task_state.is_(None),
                                                    m.Server.deleted_at <= cutoff)):
            ctx = RequestContext.internal(user_id=srv.user_id, project_id=srv.project_id)
            delete_server(s, ctx, srv, force=True)
            n += 1
    return n


def mark_deleted(srv: m.Server) -> None:
    now = utcnow()
    srv.vm_state, srv.task_state, srv.power_state = st.DELETED, None, st.NOSTATE
    srv.deleted, srv.deleted_at, srv.terminated_at, srv.updated_at = True, now, now, now


# ------------------------------------------------------------------ actions
# action -> (allowed vm_states, transitional task_state)
SIMPLE = {
    "stop": ((st.ACTIVE, st.ERROR, st.RESCUED), "powering-off"),
    "start": ((st.STOPPED,), "powering-on"),
    "reboot": ((st.ACTIVE, st.STOPPED, st.PAUSED, st.SUSPENDED, st.ERROR), "rebooting"),
    "pause": ((st.ACTIVE, st.RESCUED), "pausing"),
    "unpause": ((st.PAUSED,), "unpausing"),
    "suspend": ((st.ACTIVE, st.RESCUED), "suspending"),
    "resume": ((st.SUSPENDED,), "resuming"),
    "rescue": ((st.ACTIVE, st.STOPPED, st.ERROR), "rescuing"),
    "unrescue": ((st.RESCUED,), "unrescuing"),
    "changePassword": ((st.ACTIVE,), "updating_password"),
    "rebuild": ((st.ACTIVE, st.STOPPED, st.ERROR), "rebuilding"),
    "resize": ((st.ACTIVE, st.STOPPED), "resize_prep"),
    "migrate": ((st.ACTIVE, st.STOPPED), "resize_prep"),
    "confirmResize": ((st.RESIZED,), None),
    "revertResize": ((st.RESIZED,), "resize_reverting"),
    "live-migration": ((st.ACTIVE, st.PAUSED), "migrating"),
    "evacuate": ((st.ACTIVE, st.STOPPED, st.ERROR), "rebuilding"),
    "shelve": ((st.ACTIVE, st.STOPPED, st.PAUSED, st.SUSPENDED), "shelving"),
    "shelveOffload": ((st.SHELVED,), "shelving_offloading"),
    "unshelve": ((st.SHELVED, st.SHELVED_OFFLOADED), "unshelving"),
    "createImage": ((st.ACTIVE, st.STOPPED, st.PAUSED, st.SUSPENDED), "image_snapshot"),
    "createBackup": ((st.ACTIVE, st.STOPPED, st.PAUSED, st.SUSPENDED), "image_backup"),
    "trigger_crash_dump": ((st.ACTIVE, st.PAUSED, st.RESCUED, st.RESIZED, st.ERROR), None),
}
ACTION_NAMES = {"changePassword": "changePassword", "live-migration": "live-migration",
                "createImage": "createImage", "trigger_crash_dump": "trigger_crash_dump"}


def start_action(s: Any, ctx: Any, srv: m.Server, action: str, args: dict[str, Any] | None = None,
                 task_state: str | None = ..., check_locked: bool = True) -> m.InstanceAction:
    """Check the state machine, move to the transitional task_state and submit the task."""
    vm_states, default_ts = SIMPLE[action]
    if check_locked:
        check_lock(ctx, srv)
    check_state(srv, action, vm_states)
    ts = default_ts if task_state is ... else task_state
    a = record_action(s, ctx, srv.uuid, ACTION_NAMES.get(action, action), srv.project_id)
    srv.task_state = ts
    srv.updated_at = utcnow()
    tasks.submit(s, "compute.server_action", resource_type="server", resource_id=srv.uuid,
                 project_id=srv.project_id,
                 payload={"action": action, "action_id": a.id, "args": args or {},
                          "request_id": ctx.request_id, "user_id": ctx.user_id, "project_id": ctx.project_id,
                          "roles": list(ctx.roles)})
    return a
