"""/servers: create, list, detail, show, update, delete (+ metadata, tags, ips)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db, errors
from onestack.api.pagination import parse_limit
from onestack.api.routing import Reply, Req
from onestack.compute import groups, hosts
from onestack.compute import models as m
from onestack.compute import service as svc
from onestack.compute.api import views
from onestack.compute.api.common import (body, int_param, load, parse_bool, parse_time, target)
from onestack.compute.schemas import servers as sch
from onestack.compute.schemas.common import METADATA, TAG, TAGS, obj


# ------------------------------------------------------------------ rendering
def render(req: Req, s: Any, srv: m.Server, with_groups: bool = False, extra: dict | None = None,
           page: dict[str, Any] | None = None) -> dict:
    """One server's body. ``page`` (from _page_cache) holds what a listing reads once for all
    its rows: attachments, host states and policy answers."""
    admin = req.ctx.is_admin
    if page is not None:
        atts = page["atts"].get(srv.uuid, [])
    else:
        atts = list(s.scalars(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid)))

    def can(rule: str) -> bool:
        key = (rule, srv.project_id, srv.user_id)
        if page is None or key not in page["can"]:
            ok = req.ctx.can(rule, target(srv), fatal=False)
            if page is None:
                return ok
            page["can"][key] = ok
        return page["can"][key]
    host_status = None
    if views.mv(req, "2.16") and can("os_compute_api:servers:show:host_status"):
        if page is None:
            host_status = _host_status(s, srv)
        else:
            if srv.host not in page["hosts"]:
                page["hosts"][srv.host] = _host_status(s, srv)
            host_status = page["hosts"][srv.host]
    gids = None
    if with_groups:
        g = groups.group_of(s, srv.uuid)
        gids = [g.uuid] if g else []
    show_extra = can("os_compute_api:servers:show:flavor-extra-specs")
    return views.server(req, srv, admin, extra, atts, host_status, gids, show_extra)


def _page_cache(s: Any, rows: list[m.Server]) -> dict[str, Any]:
    atts: dict[str, list[m.VolumeAttachment]] = {}
    ids = [r.uuid for r in rows]
    for i in range(0, len(ids), 500):
        for a in s.scalars(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid.in_(ids[i:i + 500]))):
            atts.setdefault(a.instance_uuid, []).append(a)
    return {"atts": atts, "hosts": {}, "can": {}}


def _host_status(s: Any, srv: m.Server) -> str:
    if not srv.host:
        return ""
    svcs = hosts.services(s, host=srv.host, binary="nova-compute")
    if not svcs:
        return "UNKNOWN"
    if svcs[0].forced_down or not hosts.is_up(svcs[0]):
        return "DOWN"
    if svcs[0].disabled:
        return "MAINTENANCE"
    return "UP"


# ------------------------------------------------------------------ list
_ADMIN_FILTERS = {"host", "node", "task_state", "vm_state", "power_state", "launched_at", "terminated_at",
                  "created_at", "project_id", "user_id", "hostname", "display_name", "display_description",
                  "access_ip_v4", "access_ip_v6", "config_drive", "key_name", "uuid", "launch_index",
                  "kernel_id", "ramdisk_id", "root_device_name", "progress", "description", "image_ref"}
_USER_FILTERS = {"name", "status", "image", "flavor", "reservation_id", "changes-since", "changes-before",
                 "ip", "ip6", "tags", "tags-any", "not-tags", "not-tags-any", "deleted", "all_tenants",
                 "limit", "marker", "sort_key", "sort_dir", "locked", "availability_zone", "soft_deleted",
                 "ip6", "tenant_id", "project_id", "user_id", "description", "fields"}


def _list(req: Req, detail: bool) -> dict:
    rule = "os_compute_api:servers:detail" if detail else "os_compute_api:servers:index"
    req.ctx.can(rule, {"project_id": req.ctx.project_id})
    q = req.query_items
    admin_filters = req.ctx.can("os_compute_api:servers:allow_all_filters", {"project_id": req.ctx.project_id},
                                fatal=False)
    f: dict[str, Any] = {}
    all_tenants = False
    for key, value in q:
        if key == "all_tenants":
            all_tenants = value == "" or parse_bool(value, "all_tenants")
    if all_tenants:
        req.ctx.can(rule + ":get_all_tenants", {"project_id": req.ctx.project_id})
    statuses = []
    for key, value in q:
        if key in ("all_tenants", "limit", "marker", "sort_key", "sort_dir", "fields"):
            continue
        if key not in _USER_FILTERS and key not in _ADMIN_FILTERS:
            if views.mv(req, "2.102"):
                raise errors.BadRequest(f"Invalid input for query parameters: additional properties are not "
                                        f"allowed ({key} was unexpected).")
            continue  # before 2.102 unknown filters are ignored
        if key in _ADMIN_FILTERS and key not in _USER_FILTERS and not admin_filters:
            continue
        if key == "status":
            statuses.append(value)
        elif key in ("changes-since", "changes-before", "launched_at", "terminated_at", "created_at"):
            if key == "changes-before" and not views.mv(req, "2.66"):
                continue
            f[key] = parse_time(value, key)
        elif key in ("tags", "tags-any", "not-tags", "not-tags-any"):
            if views.mv(req, "2.26"):
                f[key] = [t for t in value.split(",") if t]
        elif key == "locked":
            if views.mv(req, "2.73"):
                f["locked"] = parse_bool(value, "locked")
        elif key == "deleted":
            f["deleted"] = parse_bool(value, "deleted") if admin_filters or req.ctx.is_admin else False
        elif key in ("project_id", "tenant_id"):
            if all_tenants:     # upstream: without all_tenants the caller's project is listed
                f["project_id"] = value
        elif key == "power_state":
            f[key] = int_param(value, key)
        elif key == "launch_index":
            f[key] = int_param(value, key)
        elif key == "display_name":
            f["display_name"] = value
        elif key == "image":
            f["image"] = value.rstrip("/").split("/")[-1]
        elif key == "flavor":
            f["flavor"] = value.rstrip("/").split("/")[-1]
        else:
            f[key] = value
    if statuses:
        f["status"] = statuses
    if f.get("changes-since") and f.get("changes-before") and f["changes-since"] > f["changes-before"]:
        raise errors.BadRequest("The value of changes-since must be less than or equal to changes-before.")
    if not all_tenants:
        f["project_id"] = req.ctx.project_id
    limit = parse_limit(req.query.get("limit"), default=1000)
    marker = req.query.get("marker")
    keys = req.query_all("sort_key")
    dirs = req.query_all("sort_dir")
    for k in keys:
        if k not in svc.SORT_KEYS or (k in ("host", "node") and not admin_filters):
            raise errors.BadRequest(f"Invalid input for query parameters sort_key. Value: {k}.")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: {d}.")
    sort = [(k, dirs[i] if i < len(dirs) else "desc") for i, k in enumerate(keys)] or \
        [("created_at", "desc"), ("uuid", "desc")]
    with db.read() as s:
        rows = svc.list_servers(s, req.ctx, f, sort, limit, marker, brief=not detail)
        page = _page_cache(s, rows) if detail else None
        items = [render(req, s, srv, page=page) if detail else views.server_brief(req, srv) for srv in rows]
        out: dict[str, Any] = {"servers": items}
        lk = views.collection_links(req, "servers/detail" if detail else "servers", rows, limit,
                                    lambda x: x.uuid)
        if lk:
            out["servers_links"] = lk
        return out


def index(req: Req) -> dict:
    return _list(req, False)


def detail(req: Req) -> dict:
    return _list(req, True)


def show(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:servers:show")
        return {"server": render(req, s, srv, with_groups=views.mv(req, "2.71"))}


# ------------------------------------------------------------------ create
def create(req: Req) -> Reply:
    data = body(req, sch.create(req.ctx.microversion))
    server = dict(data["server"])
    hints = data.get("os:scheduler_hints") or data.get("OS-SCH-HNT:scheduler_hints")
    if hints:
        server["os:scheduler_hints"] = hints
    req.ctx.can("os_compute_api:servers:create", {"project_id": req.ctx.project_id, "user_id": req.ctx.user_id})
    if server.get("networks") not in (None, "none", "auto"):
        req.ctx.can("os_compute_api:servers:create:attach_network", {"project_id": req.ctx.project_id})
    if server.get("block_device_mapping_v2") or server.get("block_device_mapping"):
        req.ctx.can("os_compute_api:servers:create:attach_volume", {"project_id": req.ctx.project_id})
    for k in ("min_count", "max_count"):
        if k in server:
            server[k] = int(server[k])
    svc.check_security_groups(req.ctx, server)
    with db.write() as s:
        created, reservation, admin_pass = svc.create_servers(s, req.ctx, server, req.ctx.microversion)
        first = created[0]
        if str(server.get("return_reservation_id", "")).lower() in ("true", "1", "yes", "on"):
            return Reply(202, {"reservation_id": reservation})
        out: dict[str, Any] = {"id": first.uuid, "links": views.links(req, "servers", first.uuid),
                               "OS-DCF:diskConfig": first.disk_config,
                               "security_groups": [{"name": n} for n in first.security_groups]}
        out["adminPass"] = admin_pass
        return Reply(202, {"server": out}, {"location": f"{views.base(req)}/servers/{first.uuid}"})


# ------------------------------------------------------------------ update / delete
def update(req: Req) -> dict:
    data = body(req, sch.update(req.ctx.microversion))["server"]
    with db.write() as s:
        srv = load(s, req, "os_compute_api:servers:update")
        if "name" in data:
            srv.name = data["name"]
        if "description" in data:
            srv.description = data["description"]
        if "accessIPv4" in data:
            srv.access_ip_v4 = data["accessIPv4"]
        if "accessIPv6" in data:
            srv.access_ip_v6 = data["accessIPv6"]
        if "OS-DCF:diskConfig" in data:
            srv.disk_config = data["OS-DCF:diskConfig"]
        if "hostname" in data:
            srv.hostname = data["hostname"]
        if "pinned_availability_zone" in data:
            svc.set_pinned_az(srv, data["pinned_availability_zone"])
        from onestack.db.base import utcnow
        srv.updated_at = utcnow()
        s.flush()
        if views.mv(req, "2.75"):
            return {"server": render(req, s, srv, with_groups=views.mv(req, "2.71"))}
        out = render(req, s, srv, with_groups=False)
        keep = {"id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image", "flavor", "created",
                "updated", "addresses", "accessIPv4", "accessIPv6", "links", "OS-DCF:diskConfig", "progress",
                "locked", "description", "tags", "trusted_image_certificates", "server_groups", "fault",
                "locked_reason"}
        out["addresses"] = views.plain_addresses(out["addresses"])
        return {"server": {k: v for k, v in out.items() if k in keep}}


def delete(req: Req) -> None:
    with db.write() as s:
        srv = load(s, req, "os_compute_api:servers:delete")
        svc.delete_server(s, req.ctx, srv)
    return Reply(204)


# ------------------------------------------------------------------ metadata
def _meta_load(s: Any, req: Req, rule: str) -> m.Server:
    return load(s, req, f"os_compute_api:server-metadata:{rule}")


def _meta_limit(s: Any, srv: m.Server, meta: dict[str, str]) -> None:
    from onestack.compute import quotas
    lim = quotas.limits(s, srv.project_id)["metadata_items"]
    if 0 <= lim < len(meta):
        raise errors.OverQuota(f"Quota exceeded for metadata_items: Requested {len(meta)}, but already used 0 of "
                               f"{lim} metadata_items")


def _meta_state(req: Req, srv: m.Server) -> None:
    svc.check_lock(req.ctx, srv)
    if srv.vm_state not in ("active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded",
                            "building", "rescued", "resized", "error"):
        from onestack.compute.errors import InvalidState
        raise InvalidState(action="update metadata", id=srv.uuid, attr="vm_state", state=srv.vm_state)


def meta_index(req: Req) -> dict:
    with db.read() as s:
        return {"metadata": dict(_meta_load(s, req, "index").metadata_ or {})}


def meta_show(req: Req) -> dict:
    with db.read() as s:
        meta = _meta_load(s, req, "show").metadata_ or {}
        key = req.params["key"]
        if key not in meta:
            raise errors.NotFound("Metadata item was not found")
        return {"meta": {key: meta[key]}}


def meta_create(req: Req) -> dict:
    data = body(req, obj({"metadata": METADATA}, ["metadata"]))["metadata"]
    with db.write() as s:
        srv = _meta_load(s, req, "create")
        _meta_state(req, srv)
        meta = dict(srv.metadata_ or {}, **data)
        _meta_limit(s, srv, meta)
        srv.metadata_ = meta
        return {"metadata": meta}


def meta_replace(req: Req) -> dict:
    data = body(req, obj({"metadata": METADATA}, ["metadata"]))["metadata"]
    with db.write() as s:
        srv = _meta_load(s, req, "update_all")
        _meta_state(req, srv)
        _meta_limit(s, srv, data)
        srv.metadata_ = dict(data)
        return {"metadata": data}


def meta_update(req: Req) -> dict:
    data = body(req, obj({"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}}, ["meta"]))["meta"]
    key = req.params["key"]
    if key not in data:
        raise errors.BadRequest("Request body and URI mismatch")
    with db.write() as s:
        srv = _meta_load(s, req, "update")
        _meta_state(req, srv)
        meta = dict(srv.metadata_ or {}, **data)
        _meta_limit(s, srv, meta)
        srv.metadata_ = meta
        return {"meta": data}


def meta_delete(req: Req) -> None:
    with db.write() as s:
        srv = _meta_load(s, req, "delete")
        _meta_state(req, srv)
        meta = dict(srv.metadata_ or {})
        if req.params["key"] not in meta:
            raise errors.NotFound("Metadata item was not found")
        del meta[req.params["key"]]
        srv.metadata_ = meta


# ------------------------------------------------------------------ tags (2.26)
def _tags_req(req: Req) -> None:
    if not views.mv(req, "2.26"):
        raise errors.NotFound("The resource could not be found.")


def _tag_state(req: Req, srv: m.Server) -> None:
    if srv.vm_state not in ("active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded",
                            "building", "rescued", "resized", "error"):
        from onestack.compute.errors import InvalidState
        raise InvalidState(action="update tags", id=srv.uuid, attr="vm_state", state=srv.vm_state)


def tags_index(req: Req) -> dict:
    _tags_req(req)
    with db.read() as s:
        return {"tags": list(load(s, req, "os_compute_api:os-server-tags:index").tags or [])}


def tags_show(req: Req) -> None:
    _tags_req(req)
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-server-tags:show")
        if req.params["tag"] not in (srv.tags or []):
            raise errors.NotFound(f"Tag {req.params['tag']} could not be found for instance {srv.uuid}")


def tags_put(req: Req) -> Reply:
    _tags_req(req)
    tag = req.params["tag"]
    from onestack.api import schema
    schema.validate(tag, TAG)
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-server-tags:update")
        _tag_state(req, srv)
        tags = list(srv.tags or [])
        if tag in tags:
            return Reply(204)
        if len(tags) >= 50:
            raise errors.BadRequest(f"The number of tags exceeded the per-server limit 50")
        srv.tags = tags + [tag]
        return Reply(201, None, {"location": f"{views.base(req)}/servers/{srv.uuid}/tags/{tag}"})


def tags_replace(req: Req) -> dict:
    _tags_req(req)
    data = body(req, obj({"tags": TAGS}, ["tags"]))
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-server-tags:update_all")
        _tag_state(req, srv)
        srv.tags = list(dict.fromkeys(data["tags"]))
        return {"tags": srv.tags}


def tags_delete(req: Req) -> None:
    _tags_req(req)
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-server-tags:delete")
        _tag_state(req, srv)
        if req.params["tag"] not in (srv.tags or []):
            raise errors.NotFound(f"Tag {req.params['tag']} could not be found for instance {srv.uuid}")
        srv.tags = [t for t in srv.tags if t != req.params["tag"]]


def tags_delete_all(req: Req) -> None:
    _tags_req(req)
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-server-tags:delete_all")
        _tag_state(req, srv)
        srv.tags = []


# ------------------------------------------------------------------ ips
def ips(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:server-ips:index")
        return {"addresses": srv.addresses_cache or {}}


def ips_network(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:server-ips:show")
        net = req.params["network"]
        if net not in (srv.addresses_cache or {}):
            raise errors.NotFound("Network could not be found")
        return {net: srv.addresses_cache[net]}
