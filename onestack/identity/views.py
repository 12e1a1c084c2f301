"""Keystone response bodies."""
from __future__ import annotations

from typing import Any

from onestack.api.routing import Req


def self_links(req: Req) -> dict[str, Any]:
    return {"self": f"{req.service_url}{req.path}", "previous": None, "next": None}


def link(req: Req, collection: str, rid: str) -> dict[str, str]:
    return {"self": f"{req.service_url}/v3/{collection}/{rid}"}


def project(req: Req, p: Any, tags: list[str] | None = None) -> dict[str, Any]:
    out = {"id": p.id, "name": p.name, "domain_id": p.domain_id, "description": p.description or "",
           "enabled": p.enabled, "parent_id": p.parent_id, "is_domain": p.is_domain,
           "tags": tags or [], "options": p.options or {},
           "links": link(req, "projects", p.id)}
    out.update(p.extra or {})
    return out


def domain(req: Req, d: Any, tags: list[str] | None = None) -> dict[str, Any]:
    out = {"id": d.id, "name": d.name, "description": d.description or "", "enabled": d.enabled,
           "tags": tags or [], "options": d.options or {}, "links": link(req, "domains", d.id)}
    out.update(d.extra or {})
    return out
