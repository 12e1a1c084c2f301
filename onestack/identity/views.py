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


# ------------------------------------------------------------------ directory
def collection(req: Req, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: items, "links": self_links(req)}


def domain_out(req: Req, d: Any, tags: list[str] | None = None) -> dict[str, Any]:
    return domain(req, d, tags)


def project_out(req: Req, p: Any, tags: list[str] | None = None) -> dict[str, Any]:
    if p.is_domain:
        out = domain(req, p, tags)
        out.update({"domain_id": None, "parent_id": None, "is_domain": True,
                    "links": link(req, "projects", p.id)})
        return out
    return project(req, p, tags)


def _ts(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def user(req: Req, u: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(u.extra or {})
    out.update({"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
                "password_expires_at": _ts(u.password_expires_at), "options": u.options or {},
                "links": link(req, "users", u.id)})
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    if u.description is not None:
        out["description"] = u.description
    if u.email is not None:
        out["email"] = u.email
    return out


def group(req: Req, g: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(g.extra or {})
    out.update({"id": g.id, "name": g.name, "domain_id": g.domain_id,
                "description": g.description or "", "links": link(req, "groups", g.id)})
    return out


def role(req: Req, r: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(r.extra or {})
    out.update({"id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description,
                "options": r.options or {}, "links": link(req, "roles", r.id)})
    return out


def role_brief(req: Req, r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "links": link(req, "roles", r.id)}


def implied_role(req: Req, prior: Any, implied: Any) -> dict[str, Any]:
    return {"role_inference": {"prior_role": role_brief(req, prior), "implies": role_brief(req, implied)},
            "links": {"self": f"{req.service_url}/v3/roles/{prior.id}/implies/{implied.id}"}}


def implied_roles(req: Req, prior: Any, implied: list[Any]) -> dict[str, Any]:
    return {"role_inference": {"prior_role": role_brief(req, prior),
                               "implies": [role_brief(req, r) for r in implied]},
            "links": {"self": f"{req.service_url}/v3/roles/{prior.id}/implies"}}


def _assignment_link(base: str, actor: str, actor_id: str, target: str, target_id: str,
                     role_id: str, inherited: bool) -> str:
    if target == "system":
        return f"{base}/v3/system/{actor}s/{actor_id}/roles/{role_id}"
    path = f"/{target}s/{target_id}/{actor}s/{actor_id}/roles/{role_id}"
    if inherited:
        return f"{base}/v3/OS-INHERIT{path}/inherited_to_projects"
    return f"{base}/v3{path}"


def role_assignment(req: Req, e: dict[str, Any], names: dict[str, Any] | None = None) -> dict[str, Any]:
    base = req.service_url

    def named(kind: str, obj_id: str) -> dict[str, Any]:
        ref: dict[str, Any] = {"id": obj_id}
        if names is not None and obj_id in names:
            row = names[obj_id]
            ref["name"] = row.name
            dom_id = getattr(row, "domain_id", None)
            if kind == "role":
                if dom_id:
                    dom = names.get(dom_id)
                    ref["domain"] = {"id": dom_id, "name": dom.name if dom else None}
            elif kind != "domain" and dom_id:
                dom = names.get(dom_id)
                ref["domain"] = {"id": dom_id, "name": dom.name if dom else None}
        return ref

    out: dict[str, Any] = {"role": named("role", e["role_id"]), e["actor"]: named(e["actor"], e["actor_id"])}
    if e["target"] == "system":
        out["scope"] = {"system": {"all": True}}
    else:
        out["scope"] = {e["target"]: named(e["target"], e["target_id"])}
        if e["inherited"]:
            out["scope"]["OS-INHERIT:inherited_to"] = "projects"
    src = e["source"]
    links = {"assignment": _assignment_link(base, *src)}
    ind = e.get("indirect") or {}
    if "group_id" in ind:
        links["membership"] = f"{base}/v3/groups/{ind['group_id']}/users/{e['actor_id']}"
    if "role_id" in ind:
        links["prior_role"] = f"{base}/v3/roles/{ind['role_id']}"
    out["links"] = links
    return out
