"""Flavors, extra specs and private-flavor access."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select

from onestack import errors
from onestack.compute import models as m
from onestack.compute.errors import FlavorNotFound

DEFAULTS = [  # devstack's set (ids as strings, as nova-manage/devstack create them)
    ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 20, 1), ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4), ("5", "m1.xlarge", 16384, 160, 8),
    ("42", "m1.nano", 128, 1, 1), ("84", "m1.micro", 192, 1, 1),
]


def seed(s: Any) -> None:
    if s.scalar(select(m.Flavor.id).limit(1)) is not None:
        return
    for fid, name, ram, disk, vcpus in DEFAULTS:
        s.add(m.Flavor(flavorid=fid, name=name, memory_mb=ram, root_gb=disk, vcpus=vcpus))


def visible(s: Any, f: m.Flavor, ctx: Any) -> bool:
    if f.is_public or ctx.is_admin:
        return True
    return s.get(m.FlavorProject, (f.id, ctx.project_id)) is not None


def get(s: Any, flavorid: str, ctx: Any | None = None, include_disabled: bool = True) -> m.Flavor:
    f = s.scalar(select(m.Flavor).where(m.Flavor.flavorid == flavorid))
    if f is None or (ctx is not None and not visible(s, f, ctx)):
        raise FlavorNotFound(id=flavorid)
    return f


def extra_specs(s: Any, f: m.Flavor) -> dict[str, str]:
    return {e.key: e.value for e in s.scalars(select(m.FlavorExtraSpec).where(m.FlavorExtraSpec.flavor_id == f.id))}


def list_flavors(s: Any, ctx: Any, is_public: bool | None, min_ram: int | None, min_disk: int | None,
                 sort: list[tuple[str, str]], limit: int | None, marker: str | None) -> list[m.Flavor]:
    rows = list(s.scalars(select(m.Flavor)))
    out = []
    for f in rows:
        if is_public is None:
            if not visible(s, f, ctx):
                continue
        elif f.is_public != is_public:
            continue
        elif not is_public and not ctx.is_admin and not visible(s, f, ctx):
            continue
        if min_ram is not None and f.memory_mb < min_ram:
            continue
        if min_disk is not None and f.root_gb < min_disk:
            continue
        out.append(f)
    for key, d in reversed(sort):
        out.sort(key=lambda f: (getattr(f, key) is None, getattr(f, key)), reverse=(d == "desc"))
    if marker is not None:
        ids = [f.flavorid for f in out]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        out = out[ids.index(marker) + 1:]
    if limit is not None:
        out = out[:limit]
    return out


def create(s: Any, values: dict[str, Any]) -> m.Flavor:
    fid = values.get("id")
    if fid is None or fid == "auto":
        fid = str(uuid.uuid4())
    fid = str(fid)
    if s.scalar(select(m.Flavor.id).where(m.Flavor.flavorid == fid)) is not None:
        raise errors.Conflict(f"Flavor with ID {fid} already exists.")
    if s.scalar(select(m.Flavor.id).where(m.Flavor.name == values["name"])) is not None:
        raise errors.Conflict(f"Flavor with name {values['name']} already exists.")
    f = m.Flavor(flavorid=fid, name=values["name"], memory_mb=values["ram"], vcpus=values["vcpus"],
                 root_gb=values["disk"], ephemeral_gb=values.get("OS-FLV-EXT-DATA:ephemeral", 0),
                 swap=values.get("swap", 0) or 0, rxtx_factor=values.get("rxtx_factor", 1.0),
                 is_public=values.get("os-flavor-access:is_public", True),
                 description=values.get("description"))
    s.add(f)
    s.flush()
    return f


def delete_flavor(s: Any, f: m.Flavor) -> None:
    s.delete(f)


def set_extra_specs(s: Any, f: m.Flavor, specs: dict[str, str]) -> None:
    for k, v in specs.items():
        e = s.get(m.FlavorExtraSpec, (f.id, k))
        if e is None:
            s.add(m.FlavorExtraSpec(flavor_id=f.id, key=k, value=v))
        else:
            e.value = v
    s.flush()


def delete_extra_spec(s: Any, f: m.Flavor, key: str) -> None:
    e = s.get(m.FlavorExtraSpec, (f.id, key))
    if e is None:
        raise errors.NotFound(f"Flavor {f.flavorid} has no extra specs with key {key}.")
    s.delete(e)


def access_list(s: Any, f: m.Flavor) -> list[str]:
    return sorted(s.scalars(select(m.FlavorProject.project_id).where(m.FlavorProject.flavor_id == f.id)))


def add_access(s: Any, f: m.Flavor, project_id: str) -> None:
    if f.is_public:
        raise errors.Conflict(f"Can not add access to a public flavor.")
    if s.get(m.FlavorProject, (f.id, project_id)) is not None:
        raise errors.Conflict(f"Flavor access already exists for flavor {f.flavorid} and project "
                              f"{project_id} combination.")
    s.add(m.FlavorProject(flavor_id=f.id, project_id=project_id))


def remove_access(s: Any, f: m.Flavor, project_id: str) -> None:
    row = s.get(m.FlavorProject, (f.id, project_id))
    if row is None:
        raise errors.NotFound(f"Flavor access not found for {f.flavorid} / {project_id} combination.")
    s.delete(row)


def snapshot(s: Any, f: m.Flavor) -> dict[str, Any]:
    """What a server keeps of its flavor (survives flavor deletion)."""
    return {"id": f.flavorid, "internal_id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.memory_mb,
            "disk": f.root_gb, "ephemeral": f.ephemeral_gb, "swap": f.swap,
            "extra_specs": extra_specs(s, f), "is_public": f.is_public}


def resources(flavor: dict[str, Any]) -> dict[str, int]:
    """Placement resources a server of this flavor consumes."""
    res = {"VCPU": flavor["vcpus"], "MEMORY_MB": flavor["ram"],
           "DISK_GB": flavor["disk"] + flavor.get("ephemeral", 0) + (flavor.get("swap", 0) + 1023) // 1024}
    for k, v in (flavor.get("extra_specs") or {}).items():
        if k.startswith("resources:"):
            try:
                res[k.split(":", 1)[1]] = int(v)
            except ValueError:
                pass
    return {k: v for k, v in res.items() if v > 0}
