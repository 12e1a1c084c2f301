"""Quotas: defaults (config, then the "default" quota class), per project, per user; usage
counted from live rows and checked inside the write transaction that adds the resource."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from onestack.compute import conf as cconf
from onestack.compute import models as m

RESOURCES = ["instances", "cores", "ram", "metadata_items", "injected_files",
             "injected_file_content_bytes", "injected_file_path_length", "key_pairs", "server_groups",
             "server_group_members"]
LEGACY = ["fixed_ips", "floating_ips", "security_group_rules", "security_groups"]  # < 2.36, -1/unlimited
PER_USER_COUNTED = {"instances", "cores", "ram", "key_pairs", "server_groups"}


def defaults(s: Any) -> dict[str, int]:
    c = cconf.get()
    out = {r: getattr(c, f"quota_{r}") for r in RESOURCES}
    out.update({r: -1 for r in LEGACY})
    for q in s.scalars(select(m.QuotaClass).where(m.QuotaClass.class_name == "default")):
        out[q.resource] = q.hard_limit
    return out


def limits(s: Any, project_id: str, user_id: str | None = None) -> dict[str, int]:
    return _limits(s, project_id, user_id)[1 if user_id else 0]


def _limits(s: Any, project_id: str, user_id: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """(the project's limits, the user's) in two queries: defaults, then both overrides."""
    project = defaults(s)
    user_rows = []
    for res, uid, limit in s.execute(select(m.Quota.resource, m.Quota.user_id, m.Quota.hard_limit).where(
            m.Quota.project_id == project_id, m.Quota.user_id.in_(["", user_id] if user_id else [""]))):
        if uid == "":
            project[res] = limit
        else:
            user_rows.append((res, limit))
    user = dict(project)
    user.update(user_rows)
    return project, user


def usage(s: Any, project_id: str, user_id: str | None = None) -> dict[str, int]:
    # counted in SQL (not by reading every server's flavor): the cost does not grow with the project
    n, cores, ram = s.execute(select(
        func.count(), func.coalesce(func.sum(m.Server.flavor["vcpus"].as_integer()), 0),
        func.coalesce(func.sum(m.Server.flavor["ram"].as_integer()), 0))
        .where(m.Server.project_id == project_id, m.Server.deleted.is_(False),
               *([m.Server.user_id == user_id] if user_id else []))).one()
    groups = s.scalar(select(func.count()).select_from(m.ServerGroup).where(
        m.ServerGroup.project_id == project_id, *([m.ServerGroup.user_id == user_id] if user_id else [])))
    keypairs = s.scalar(select(func.count()).select_from(m.KeyPair).where(m.KeyPair.user_id == user_id)) \
        if user_id else 0
    return {"instances": int(n), "cores": int(cores), "ram": int(ram), "server_groups": groups,
            "key_pairs": keypairs, "metadata_items": 0, "injected_files": 0,
            "injected_file_content_bytes": 0, "injected_file_path_length": 0, "server_group_members": 0}


def check_servers(s: Any, project_id: str, user_id: str, count: int, vcpus: int, ram: int) -> int | None:
    """None if ``count`` servers fit, else the resource that is over ("instances"/"cores"/"ram")
    and the allowed count is raised by the caller. Runs inside the creating transaction."""
    both = _limits(s, project_id, user_id)
    for scope_user, lim_scope in zip((None, user_id), both):
        if all(lim_scope[r] < 0 for r in ("instances", "cores", "ram")):
            continue   # unlimited: nothing to count
        use = usage(s, project_id, scope_user)
        for res, per in (("instances", 1), ("cores", vcpus), ("ram", ram)):
            limit = lim_scope[res]
            if limit < 0:
                continue
            if use[res] + per * count > limit:
                return {"resource": res, "limit": limit, "used": use[res], "requested": per * count}  # type: ignore[return-value]
    return None


def set_quota(s: Any, project_id: str, user_id: str | None, values: dict[str, int]) -> None:
    for res, val in values.items():
        row = s.get(m.Quota, (project_id, user_id or "", res))
        if row is None:
            s.add(m.Quota(project_id=project_id, user_id=user_id or "", resource=res, hard_limit=val))
        else:
            row.hard_limit = val
    s.flush()


def delete_quota(s: Any, project_id: str, user_id: str | None) -> None:
    for row in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id,
                                               m.Quota.user_id == (user_id or ""))):
        s.delete(row)
