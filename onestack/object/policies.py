"""Object-storage policy defaults (Swift keystoneauth's personas as oslo.policy rules).

The target carries the account's project (``project_id``). Operator roles (admin,
member, swiftoperator) own their project's account; reader may only read it;
ResellerAdmin may do anything to any account. Anonymous and cross-project access is
decided by ACLs after these rules refuse (handlers call ``can(..., fatal=False)``).
"""
from onestack.policy import Rule

RESELLER = "role:ResellerAdmin"
OPERATOR = "(role:admin or role:member or role:swiftoperator) and project_id:%(project_id)s"
READER = "role:reader and project_id:%(project_id)s"

RULES = [
    Rule("object:reseller_admin", RESELLER,
         "Full control of every account (account quotas, account PUT/DELETE)."),
    Rule("object:read", f"rule:object:reseller_admin or ({OPERATOR}) or ({READER})",
         "Read an account, its containers and objects (HEAD/GET).",
         operations=(("GET", "/v1/{account}"), ("GET", "/v1/{account}/{container}"),
                     ("GET", "/v1/{account}/{container}/{object}"))),
    Rule("object:write", f"rule:object:reseller_admin or ({OPERATOR})",
         "Change an account, its containers and objects (PUT/POST/DELETE/COPY).",
         operations=(("POST", "/v1/{account}"), ("PUT", "/v1/{account}/{container}"),
                     ("PUT", "/v1/{account}/{container}/{object}"))),
]
