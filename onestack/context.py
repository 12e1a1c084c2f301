"""RequestContext: who is calling, with what scope, for which request."""
from __future__ import annotations

import dataclasses
import os
from typing import Any


def new_request_id() -> str:
    """``req-`` and a random (version 4) UUID, as oslo.context makes them."""
    h = os.urandom(16).hex()
    return (f"req-{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}"
            f"-{h[20:]}")


_VARIANT = "89ab"


@dataclasses.dataclass
class RequestContext:
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None          # set for domain-scoped tokens
    domain_name: str | None = None
    system_scope: str | None = None       # "all" for system-scoped tokens
    roles: list[str] = dataclasses.field(default_factory=list)
    role_ids: list[str] = dataclasses.field(default_factory=list)
    auth_token: str | None = None
    token_info: dict[str, Any] | None = None
    request_id: str = dataclasses.field(default_factory=new_request_id)
    microversion: Any = None
    service: str = ""
    is_internal: bool = False             # work done by onestack itself (tasks, bootstrap)
    app_cred_id: str | None = None

    @classmethod
    def internal(cls, **kw: Any) -> "RequestContext":
        """A context for onestack's own work: acts as system admin."""
        return cls(roles=["admin", "member", "reader"], system_scope="all", is_internal=True, **kw)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.is_internal

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_system_admin(self) -> bool:
        return self.system_scope == "all" and "admin" in self.roles

    def creds(self) -> dict[str, Any]:
        """What policy rules see as credentials (oslo.context's names)."""
        return {
            "user_id": self.user_id, "user": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id, "tenant": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": [r.lower() for r in self.roles],
            "is_admin_project": True,
            "service_user_id": None, "service_roles": [],
            "token": self.token_info or {},   # token.domain.id / token.project.domain.id checks
        }

    def can(self, rule: str, target: dict[str, Any] | None = None, *, fatal: bool = True) -> bool:
        """Is this caller allowed ``rule`` on ``target``? Raises PolicyNotAuthorized when fatal."""
        from onestack import policy
        return policy.enforce(self, rule, target or {}, fatal=fatal)
