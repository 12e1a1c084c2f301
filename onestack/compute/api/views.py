"""Compute response bodies, per microversion (upstream shapes; Tempest validates them with
additionalProperties=false)."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
from typing import Any

from onestack.api.microversion import APIVersion
from onestack.api.routing import Req
from onestack.compute import states as st


def ts(value: dt.datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is None and value.year >= 1000:   # (naive UTC) isoformat: same text, half the cost
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_usec(value: dt.datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is None and value.year >= 1000:
        return value.isoformat(timespec="microseconds")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _ip(value: str | None) -> str:
    """An access IP in canonical form (upstream stores the parsed address)."""
    try:
        return str(ipaddress.ip_address(value)) if value else ""
    except ValueError:
        return value or ""


@functools.lru_cache(maxsize=256)
def _version(text: str) -> APIVersion:
    return APIVersion(text)


def mv(req: Req, version: str) -> bool:
    # called many times per server of a listing: parse each version string once
    return not req.ctx.microversion < _version(version)


def base(req: Req) -> str:
    return req.service_url + "/v2.1"


def links(req: Req, collection: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{base(req)}/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{req.service_url}/{collection}/{ident}"}]


@functools.lru_cache(maxsize=4096)   # (a listing asks for the same few pairs per row)
def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def collection_links(req: Req, name: str, items: list[Any], limit: int | None, id_of: Any) -> list[dict[str, str]]:
    from onestack.api.pagination import next_link
    if limit and items and len(items) >= limit:
        return [{"rel": "next", "href": next_link(f"{base(req)}/{name}", req.query_items, id_of(items[-1]))}]
    return []


# ------------------------------------------------------------------ flavors
def flavor(req: Req, f: Any, extra_specs: dict[str, str] | None = None, brief: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.flavorid, "name": f.name, "links": links(req, "flavors", f.flavorid)}
    if mv(req, "2.55"):
        out["description"] = f.description
    if brief:
        return out
    out.update({"ram": f.memory_mb, "disk": f.root_gb, "vcpus": f.vcpus,
                "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb, "OS-FLV-DISABLED:disabled": f.disabled,
                "swap": f.swap if (f.swap or mv(req, "2.75")) else "",
                "rxtx_factor": f.rxtx_factor, "os-flavor-access:is_public": f.is_public})
    if mv(req, "2.102"):
        del out["OS-FLV-DISABLED:disabled"], out["rxtx_factor"]
    if mv(req, "2.61") and extra_specs is not None:
        out["extra_specs"] = extra_specs
    return out


# ------------------------------------------------------------------ servers
def plain_addresses(addresses: dict[str, Any]) -> dict[str, Any]:
    """Addresses without the OS-EXT-IPS extension keys (update/rebuild bodies before 2.75)."""
    return {net: [{"version": a.get("version"), "addr": a.get("addr")} for a in items]
            for net, items in (addresses or {}).items()}


def server_brief(req: Req, srv: Any) -> dict[str, Any]:
    return {"id": srv.uuid, "name": srv.name, "links": links(req, "servers", srv.uuid)}


def _image(req: Req, srv: Any) -> Any:
    if not srv.image_ref:
        return ""
    out: dict[str, Any] = {"id": srv.image_ref, "links": [
        {"rel": "bookmark", "href": f"{req.service_url}/images/{srv.image_ref}"}]}
    if mv(req, "2.98"):
        out["properties"] = (srv.system_metadata or {}).get("image_properties") or {}
    return out


def _flavor(req: Req, srv: Any, show_extra: bool) -> dict[str, Any]:
    f = srv.flavor or {}
    if not mv(req, "2.47"):
        return {"id": f.get("id"), "links": [{"rel": "bookmark", "href": f"{req.service_url}/flavors/{f.get('id')}"}]}
    out = {"vcpus": f.get("vcpus"), "ram": f.get("ram"), "disk": f.get("disk"), "ephemeral": f.get("ephemeral", 0),
           "swap": f.get("swap", 0), "original_name": f.get("name")}
    if show_extra:
        out["extra_specs"] = f.get("extra_specs") or {}
    return out


PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def server(req: Req, srv: Any, ctx_admin: bool, extra: dict[str, Any] | None = None,
           attachments: list[Any] | None = None, host_status: str | None = None,
           group_ids: list[str] | None = None, show_extra_specs: bool = True) -> dict[str, Any]:
    status = st.status(srv.vm_state, srv.task_state)
    out: dict[str, Any] = {
        "id": srv.uuid, "name": srv.name, "status": status, "tenant_id": srv.project_id, "user_id": srv.user_id,
        "metadata": dict(srv.metadata_ or {}), "hostId": host_id(srv.project_id, srv.host),
        "image": _image(req, srv), "flavor": _flavor(req, srv, show_extra_specs),
        "created": ts(srv.created_at), "updated": ts(srv.updated_at),
        "addresses": srv.addresses_cache or {}, "accessIPv4": _ip(srv.access_ip_v4),
        "accessIPv6": _ip(srv.access_ip_v6), "links": links(req, "servers", srv.uuid),
        "OS-DCF:diskConfig": srv.disk_config or "MANUAL",
        "OS-EXT-AZ:availability_zone": srv.availability_zone or "",
        "config_drive": srv.config_drive or "", "key_name": srv.key_name,
        "OS-SRV-USG:launched_at": ts_usec(srv.launched_at), "OS-SRV-USG:terminated_at": ts_usec(srv.terminated_at),
        "OS-EXT-STS:task_state": srv.task_state, "OS-EXT-STS:vm_state": srv.vm_state,
        "OS-EXT-STS:power_state": srv.power_state,
        "os-extended-volumes:volumes_attached": [
            ({"id": a.volume_id, "delete_on_termination": a.delete_on_termination} if mv(req, "2.3")
             else {"id": a.volume_id}) for a in (attachments or [])],
    }
    if status in PROGRESS_STATUSES:
        out["progress"] = srv.progress or 0
    if srv.security_groups and srv.requested_networks != "none":
        out["security_groups"] = [{"name": n} for n in srv.security_groups]
    if ctx_admin:
        out["OS-EXT-SRV-ATTR:host"] = srv.host
        out["OS-EXT-SRV-ATTR:instance_name"] = _iname(srv)
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = srv.node
    if mv(req, "2.3") and ctx_admin:
        out.update({"OS-EXT-SRV-ATTR:reservation_id": srv.reservation_id,
                    "OS-EXT-SRV-ATTR:launch_index": srv.launch_index,
                    "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:hostname": srv.hostname,
                    "OS-EXT-SRV-ATTR:root_device_name": srv.root_device_name,
                    "OS-EXT-SRV-ATTR:user_data": srv.user_data})
    elif mv(req, "2.90"):
        out["OS-EXT-SRV-ATTR:hostname"] = srv.hostname
    if srv.fault and status in ("ERROR", "DELETED"):
        fault = {"code": srv.fault["code"], "created": ts(dt.datetime.fromisoformat(srv.fault["created"])),
                 "message": srv.fault["message"]}
        if ctx_admin or srv.fault["code"] != 500:
            fault["details"] = srv.fault.get("details") or ""
        out["fault"] = fault
    if mv(req, "2.9"):
        out["locked"] = bool(srv.locked)
    if mv(req, "2.16") and host_status is not None:
        out["host_status"] = host_status
    if mv(req, "2.19"):
        out["description"] = srv.description
    if mv(req, "2.26"):
        out["tags"] = list(srv.tags or [])
    if mv(req, "2.63"):
        out["trusted_image_certificates"] = (srv.system_metadata or {}).get("trusted_image_certificates")
    if mv(req, "2.71") and group_ids is not None:
        out["server_groups"] = group_ids
    if mv(req, "2.73"):
        out["locked_reason"] = srv.locked_reason
    if mv(req, "2.96"):
        out["pinned_availability_zone"] = srv.pinned_az
    if mv(req, "2.100"):
        out["scheduler_hints"] = srv.scheduler_hints or {}
    if extra:
        out.update(extra)
    return out


def _iname(srv: Any) -> str:
    from onestack.compute.service import instance_name
    return instance_name(srv)


# ------------------------------------------------------------------ keypairs
def keypair(req: Req, kp: Any, detail: bool = False, private_key: str | None = None,
            with_user: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint}
    if mv(req, "2.2"):
        out["type"] = kp.type
    if with_user:
        out["user_id"] = kp.user_id
    if private_key is not None:
        out["private_key"] = private_key
    if detail:
        out.update({"created_at": ts_usec(kp.created_at), "deleted": False, "deleted_at": None,
                    "updated_at": None, "id": kp.id})
    return out


# ------------------------------------------------------------------ misc
def server_group(req: Req, g: Any, members: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": g.uuid, "name": g.name, "members": members}
    if mv(req, "2.64"):
        out["policy"] = g.policy
        out["rules"] = g.rules or {}
    else:
        out["policies"] = [g.policy]
        out["metadata"] = {}
    if mv(req, "2.13"):
        out["project_id"] = g.project_id
        out["user_id"] = g.user_id
    return out


def aggregate(req: Req, agg: Any, hosts: list[str], meta: dict[str, str], brief: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": agg.id, "name": agg.name, "availability_zone": meta.get("availability_zone"),
                           "created_at": ts_usec(agg.created_at), "updated_at": ts_usec(agg.updated_at),
                           "deleted_at": None, "deleted": False}
    if not brief:
        out["hosts"] = hosts
        out["metadata"] = meta
    if mv(req, "2.41"):
        out["uuid"] = agg.uuid
    return out


def migration(req: Req, mig: Any, in_progress_only: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": mig.id, "status": mig.status, "instance_uuid": mig.instance_uuid,
                           "source_compute": mig.source_compute, "source_node": mig.source_node,
                           "dest_compute": mig.dest_compute, "dest_node": mig.dest_node,
                           "dest_host": mig.dest_host or "", "old_instance_type_id": mig.old_flavor_id,
                           "new_instance_type_id": mig.new_flavor_id,
                           "created_at": ts_usec(mig.created_at), "updated_at": ts_usec(mig.updated_at)}
    if mv(req, "2.23"):
        out["migration_type"] = mig.migration_type
        if mig.migration_type == "live-migration" and mig.status in ("queued", "preparing", "running",
                                                                      "post-migrating"):
            out["links"] = links(req, f"servers/{mig.instance_uuid}/migrations", str(mig.id))
    if mv(req, "2.59"):
        out["uuid"] = mig.uuid
    if mv(req, "2.80"):
        out["user_id"] = mig.user_id
        out["project_id"] = mig.project_id
    return out
