"""Upstream default policies for the catalog (regions, services, endpoints), application
credentials and access rules, credentials and EC2 credentials, unified limits and trusts.

Names, check strings and scope types are Keystone's current defaults
(keystone/common/policies/{region,service,endpoint,application_credential,access_rule,
credential,ec2_credential,limit,registered_limit,trust}.py).
"""
from onestack.policy import Rule

ADMIN = "rule:admin_required"
SYSTEM_READER = "role:reader and system_scope:all"
SYSTEM_ADMIN = "role:admin and system_scope:all"
ADMIN_OR_SYSTEM_READER = f"{ADMIN} or ({SYSTEM_READER})"
ADMIN_OR_SYSTEM_READER_OR_OWNER = f"({ADMIN}) or ({SYSTEM_READER}) or rule:owner"
ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER = (f"({ADMIN}) or ({SYSTEM_READER}) "
                                        "or user_id:%(target.credential.user_id)s")
ADMIN_OR_CRED_OWNER = f"({ADMIN}) or user_id:%(target.credential.user_id)s"
ADMIN_OR_MEMBER_AND_CRED_OWNER = f"({ADMIN}) or (role:member and user_id:%(target.credential.user_id)s)"
LIMIT_READER = (f"{ADMIN} or ({SYSTEM_READER}) or "
                "(domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or "
                "(project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)")
TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"
ALL = ("system", "domain", "project")
SP = ("system", "project")


def _r(name: str, check: str, scopes: tuple[str, ...], *ops: tuple[str, str]) -> Rule:
    return Rule(f"identity:{name}", check, scope_types=scopes, operations=tuple(ops))


RULES = [
    # regions
    _r("get_region", "", ALL, ("GET", "/v3/regions/{region_id}")),
    _r("list_regions", "", ALL, ("GET", "/v3/regions")),
    _r("create_region", ADMIN, SP, ("POST", "/v3/regions"), ("PUT", "/v3/regions/{region_id}")),
    _r("update_region", ADMIN, SP, ("PATCH", "/v3/regions/{region_id}")),
    _r("delete_region", ADMIN, SP, ("DELETE", "/v3/regions/{region_id}")),
    # services
    _r("get_service", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/services/{service_id}")),
    _r("list_services", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/services")),
    _r("create_service", ADMIN, SP, ("POST", "/v3/services")),
    _r("update_service", ADMIN, SP, ("PATCH", "/v3/services/{service_id}")),
    _r("delete_service", ADMIN, SP, ("DELETE", "/v3/services/{service_id}")),
    # endpoints
    _r("get_endpoint", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/endpoints/{endpoint_id}")),
    _r("list_endpoints", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/endpoints")),
    _r("create_endpoint", ADMIN, SP, ("POST", "/v3/endpoints")),
    _r("update_endpoint", ADMIN, SP, ("PATCH", "/v3/endpoints/{endpoint_id}")),
    _r("delete_endpoint", ADMIN, SP, ("DELETE", "/v3/endpoints/{endpoint_id}")),
    # application credentials
    _r("get_application_credential", ADMIN_OR_SYSTEM_READER_OR_OWNER, SP,
       ("GET", "/v3/users/{user_id}/application_credentials/{application_credential_id}")),
    _r("list_application_credentials", ADMIN_OR_SYSTEM_READER_OR_OWNER, SP,
       ("GET", "/v3/users/{user_id}/application_credentials")),
    _r("create_application_credential", "user_id:%(user_id)s", ("project",),
       ("POST", "/v3/users/{user_id}/application_credentials")),
    _r("delete_application_credential", "rule:admin_or_owner", SP,
       ("DELETE", "/v3/users/{user_id}/application_credentials/{application_credential_id}")),
    # access rules
    _r("get_access_rule", f"({SYSTEM_READER}) or user_id:%(target.user.id)s", SP,
       ("GET", "/v3/users/{user_id}/access_rules/{access_rule_id}")),
    _r("list_access_rules", f"({SYSTEM_READER}) or user_id:%(target.user.id)s", SP,
       ("GET", "/v3/users/{user_id}/access_rules")),
    _r("delete_access_rule", f"({SYSTEM_ADMIN}) or user_id:%(target.user.id)s", SP,
       ("DELETE", "/v3/users/{user_id}/access_rules/{access_rule_id}")),
    # credentials
    _r("get_credential", ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER, ALL, ("GET", "/v3/credentials/{credential_id}")),
    _r("list_credentials", ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER, ALL, ("GET", "/v3/credentials")),
    _r("create_credential", ADMIN_OR_CRED_OWNER, ALL, ("POST", "/v3/credentials")),
    _r("update_credential", ADMIN_OR_CRED_OWNER, ALL, ("PATCH", "/v3/credentials/{credential_id}")),
    _r("delete_credential", ADMIN_OR_CRED_OWNER, ALL, ("DELETE", "/v3/credentials/{credential_id}")),
    # EC2 credentials
    _r("ec2_get_credential", ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER, SP,
       ("GET", "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}")),
    _r("ec2_list_credentials", ADMIN_OR_SYSTEM_READER_OR_OWNER, SP,
       ("GET", "/v3/users/{user_id}/credentials/OS-EC2")),
    _r("ec2_create_credential", ADMIN_OR_MEMBER_AND_CRED_OWNER, SP,
       ("POST", "/v3/users/{user_id}/credentials/OS-EC2")),
    _r("ec2_delete_credential", ADMIN_OR_MEMBER_AND_CRED_OWNER, SP,
       ("DELETE", "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}")),
    # unified limits
    _r("get_limit_model", "", ALL, ("GET", "/v3/limits/model")),
    _r("get_limit", LIMIT_READER, ALL, ("GET", "/v3/limits/{limit_id}")),
    _r("list_limits", "", ALL, ("GET", "/v3/limits")),
    _r("create_limits", ADMIN, SP, ("POST", "/v3/limits")),
    _r("update_limit", ADMIN, SP, ("PATCH", "/v3/limits/{limit_id}")),
    _r("delete_limit", ADMIN, SP, ("DELETE", "/v3/limits/{limit_id}")),
    _r("get_registered_limit", "", ALL, ("GET", "/v3/registered_limits/{registered_limit_id}")),
    _r("list_registered_limits", "", ALL, ("GET", "/v3/registered_limits")),
    _r("create_registered_limits", ADMIN, SP, ("POST", "/v3/registered_limits")),
    _r("update_registered_limit", ADMIN, SP, ("PATCH", "/v3/registered_limits/{registered_limit_id}")),
    _r("delete_registered_limit", ADMIN, SP, ("DELETE", "/v3/registered_limits/{registered_limit_id}")),
    # trusts
    _r("create_trust", "user_id:%(target.trust.trustor_user_id)s", ("project",), ("POST", "/v3/OS-TRUST/trusts")),
    _r("list_trusts", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/OS-TRUST/trusts")),
    _r("list_trusts_for_trustor", f"({ADMIN}) or ({SYSTEM_READER} or {TRUSTOR})", SP,
       ("GET", "/v3/OS-TRUST/trusts?trustor_user_id={trustor_user_id}")),
    _r("list_trusts_for_trustee", f"({ADMIN}) or ({SYSTEM_READER} or {TRUSTEE})", SP,
       ("GET", "/v3/OS-TRUST/trusts?trustee_user_id={trustee_user_id}")),
    _r("list_roles_for_trust", f"({ADMIN}) or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})", SP,
       ("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles")),
    _r("get_role_for_trust", f"({ADMIN}) or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})", SP,
       ("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}")),
    _r("delete_trust", f"{ADMIN} or {TRUSTOR}", SP, ("DELETE", "/v3/OS-TRUST/trusts/{trust_id}")),
    _r("get_trust", f"({ADMIN}) or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})", SP,
       ("GET", "/v3/OS-TRUST/trusts/{trust_id}")),

    # policies (/v3/policies)
    _r("get_policy", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/policies/{policy_id}")),
    _r("list_policies", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/policies")),
    _r("create_policy", ADMIN, SP, ("POST", "/v3/policies")),
    _r("update_policy", ADMIN, SP, ("PATCH", "/v3/policies/{policy_id}")),
    _r("delete_policy", ADMIN, SP, ("DELETE", "/v3/policies/{policy_id}")),
    # OS-EP-FILTER endpoint groups
    _r("create_endpoint_group", ADMIN, SP, ("POST", "/v3/OS-EP-FILTER/endpoint_groups")),
    _r("list_endpoint_groups", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/OS-EP-FILTER/endpoint_groups")),
    _r("get_endpoint_group", ADMIN_OR_SYSTEM_READER, SP,
       ("GET", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}")),
    _r("update_endpoint_group", ADMIN, SP, ("PATCH", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}")),
    _r("delete_endpoint_group", ADMIN, SP, ("DELETE", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}")),
    _r("list_projects_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER, SP,
       ("GET", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects")),
    _r("list_endpoints_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER, SP,
       ("GET", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints")),
    _r("get_endpoint_group_in_project", ADMIN_OR_SYSTEM_READER, SP,
       ("GET", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}")),
    _r("list_endpoint_groups_for_project", ADMIN_OR_SYSTEM_READER, SP,
       ("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups")),
    _r("add_endpoint_group_to_project", ADMIN, SP,
       ("PUT", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}")),
    _r("remove_endpoint_group_from_project", ADMIN, SP,
       ("DELETE", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}")),
    # OS-OAUTH1 consumers
    _r("get_consumer", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/OS-OAUTH1/consumers/{consumer_id}")),
    _r("list_consumers", ADMIN_OR_SYSTEM_READER, SP, ("GET", "/v3/OS-OAUTH1/consumers")),
    _r("create_consumer", ADMIN, SP, ("POST", "/v3/OS-OAUTH1/consumers")),
    _r("update_consumer", ADMIN, SP, ("PATCH", "/v3/OS-OAUTH1/consumers/{consumer_id}")),
    _r("delete_consumer", ADMIN, SP, ("DELETE", "/v3/OS-OAUTH1/consumers/{consumer_id}")),
]
