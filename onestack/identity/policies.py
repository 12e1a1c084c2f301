"""Keystone's default policies (enforce_scope and new defaults on, as upstream today)."""
from onestack.policy import Rule

ADMIN_REQUIRED = "role:admin or is_admin:1"
SERVICE_ROLE = "role:service"
SYSTEM_READER = "(role:reader and system_scope:all)"
SYSTEM_ADMIN = "(role:admin and system_scope:all)"
ADMIN_OR_SYSTEM_READER = f"rule:admin_required or {SYSTEM_READER}"
TOKEN_SUBJECT = "user_id:%(target.token.user_id)s"

RULES = [
    Rule("admin_required", ADMIN_REQUIRED),
    Rule("service_role", SERVICE_ROLE),
    Rule("service_or_admin", "rule:admin_required or rule:service_role"),
    Rule("owner", "user_id:%(user_id)s"),
    Rule("admin_or_owner", "rule:admin_required or rule:owner"),
    Rule("token_subject", TOKEN_SUBJECT),
    Rule("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject"),
    Rule("identity:check_token",
         f"rule:admin_required or {SYSTEM_READER} or rule:service_role or rule:token_subject",
         scope_types=("system", "domain", "project"),
         operations=(("HEAD", "/v3/auth/tokens"),)),
    Rule("identity:validate_token",
         f"rule:admin_required or {SYSTEM_READER} or rule:service_role or rule:token_subject",
         scope_types=("system", "domain", "project"),
         operations=(("GET", "/v3/auth/tokens"),)),
    Rule("identity:revoke_token",
         "rule:admin_required or rule:service_role or rule:token_subject",
         scope_types=("system", "domain", "project"),
         operations=(("DELETE", "/v3/auth/tokens"),)),
]
