"""Server groups: affinity, anti-affinity, soft-*, max_server_per_host."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from onestack import errors
from onestack.compute import models as m
from onestack.compute.errors import ServerGroupNotFound

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def get(s: Any, group_id: str, project_id: str | None) -> m.ServerGroup:
    g = s.get(m.ServerGroup, group_id)
    if g is None or (project_id is not None and g.project_id != project_id):
        raise ServerGroupNotFound(id=group_id)
    return g


def members(s: Any, g: m.ServerGroup) -> list[str]:
    ids = s.scalars(select(m.ServerGroupMember.instance_uuid).where(m.ServerGroupMember.group_uuid == g.uuid)).all()
    if not ids:
        return []
    live = set(s.scalars(select(m.Server.uuid).where(m.Server.uuid.in_(ids), m.Server.deleted.is_(False))))
    return [i for i in ids if i in live]


def group_of(s: Any, server_uuid: str) -> m.ServerGroup | None:
    gid = s.scalar(select(m.ServerGroupMember.group_uuid).where(m.ServerGroupMember.instance_uuid == server_uuid))
    return s.get(m.ServerGroup, gid) if gid else None


def create(s: Any, ctx: Any, name: str, policy: str, rules: dict[str, Any], limit: int) -> m.ServerGroup:
    if limit >= 0:
        n = len(s.scalars(select(m.ServerGroup.uuid).where(m.ServerGroup.project_id == ctx.project_id)).all())
        if n + 1 > limit:
            raise errors.OverQuota("Quota exceeded, too many server groups.")
    g = m.ServerGroup(uuid=str(uuid.uuid4()), name=name, project_id=ctx.project_id, user_id=ctx.user_id,
                      policy=policy, rules=rules)
    s.add(g)
    s.flush()
    return g


def add_members(s: Any, g: m.ServerGroup, server_uuids: list[str], limit: int) -> None:
    current = members(s, g)
    if limit >= 0 and len(current) + len(server_uuids) > limit:
        raise errors.OverQuota("Quota exceeded, too many servers in group")
    for u in server_uuids:
        s.add(m.ServerGroupMember(group_uuid=g.uuid, instance_uuid=u))
