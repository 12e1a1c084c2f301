"""Routes for domains, projects, users, groups, roles, implied roles and role assignments."""
from onestack.api.routing import route
from onestack.identity.api import assignments as a
from onestack.identity.api import domains, groups, projects, roles, users


def _grant_routes() -> list:
    out = []
    for tgt in ("projects/{project_id}", "domains/{domain_id}"):
        for actor in ("users/{user_id}", "groups/{group_id}"):
            for prefix, suffix in (("", ""), ("/OS-INHERIT", "/inherited_to_projects")):
                one = f"/v3{prefix}/{tgt}/{actor}/roles/{{role_id}}{suffix}"
                out += [route("PUT", one, a.grant), route("GET", one, a.check),
                        route("HEAD", one, a.check), route("DELETE", one, a.revoke)]
                if not (prefix and tgt.startswith("projects")):
                    out.append(route("GET", f"/v3{prefix}/{tgt}/{actor}/roles{suffix}", a.list_for))
    for actor in ("users/{user_id}", "groups/{group_id}"):
        one = f"/v3/system/{actor}/roles/{{role_id}}"
        out += [route("PUT", one, a.grant), route("GET", one, a.check), route("HEAD", one, a.check),
                route("DELETE", one, a.revoke), route("GET", f"/v3/system/{actor}/roles", a.list_for)]
    return out


ROUTES = [
    route("GET", "/v3/domains", domains.list_domains),
    route("POST", "/v3/domains", domains.create_domain),
    route("GET", "/v3/domains/{domain_id}", domains.show_domain),
    route("PATCH", "/v3/domains/{domain_id}", domains.update_domain),
    route("DELETE", "/v3/domains/{domain_id}", domains.delete_domain),
    route("GET", "/v3/domains/config/default", domains.default_config),
    route("GET", "/v3/domains/config/{group}/default", domains.default_config),
    route("GET", "/v3/domains/config/{group}/{option}/default", domains.default_config),
    route("PUT", "/v3/domains/{domain_id}/config", domains.create_config),
    route("GET", "/v3/domains/{domain_id}/config", domains.get_config),
    route("PATCH", "/v3/domains/{domain_id}/config", domains.update_config),
    route("DELETE", "/v3/domains/{domain_id}/config", domains.delete_config),
    route("GET", "/v3/domains/{domain_id}/config/{group}", domains.get_config),
    route("PATCH", "/v3/domains/{domain_id}/config/{group}", domains.update_config),
    route("DELETE", "/v3/domains/{domain_id}/config/{group}", domains.delete_config),
    route("GET", "/v3/domains/{domain_id}/config/{group}/{option}", domains.get_config),
    route("PATCH", "/v3/domains/{domain_id}/config/{group}/{option}", domains.update_config),
    route("DELETE", "/v3/domains/{domain_id}/config/{group}/{option}", domains.delete_config),

    route("GET", "/v3/projects", projects.list_projects),
    route("POST", "/v3/projects", projects.create_project),
    route("GET", "/v3/projects/{project_id}", projects.show_project),
    route("PATCH", "/v3/projects/{project_id}", projects.update_project),
    route("DELETE", "/v3/projects/{project_id}", projects.delete_project),
    route("GET", "/v3/projects/{project_id}/tags", projects.list_tags),
    route("PUT", "/v3/projects/{project_id}/tags", projects.replace_tags),
    route("DELETE", "/v3/projects/{project_id}/tags", projects.delete_tags),
    route("GET", "/v3/projects/{project_id}/tags/{tag}", projects.check_tag),
    route("PUT", "/v3/projects/{project_id}/tags/{tag}", projects.add_tag),
    route("DELETE", "/v3/projects/{project_id}/tags/{tag}", projects.delete_tag),

    route("GET", "/v3/users", users.list_users),
    route("POST", "/v3/users", users.create_user),
    route("GET", "/v3/users/{user_id}", users.show_user),
    route("PATCH", "/v3/users/{user_id}", users.update_user),
    route("DELETE", "/v3/users/{user_id}", users.delete_user),
    route("POST", "/v3/users/{user_id}/password", users.change_password, auth=False),  # the original password authenticates
    route("GET", "/v3/users/{user_id}/projects", users.user_projects),
    route("GET", "/v3/users/{user_id}/groups", users.user_groups),

    route("GET", "/v3/groups", groups.list_groups),
    route("POST", "/v3/groups", groups.create_group),
    route("GET", "/v3/groups/{group_id}", groups.show_group),
    route("PATCH", "/v3/groups/{group_id}", groups.update_group),
    route("DELETE", "/v3/groups/{group_id}", groups.delete_group),
    route("GET", "/v3/groups/{group_id}/users", groups.list_members),
    route("PUT", "/v3/groups/{group_id}/users/{user_id}", groups.add_member),
    route("GET", "/v3/groups/{group_id}/users/{user_id}", groups.check_member),
    route("HEAD", "/v3/groups/{group_id}/users/{user_id}", groups.check_member),
    route("DELETE", "/v3/groups/{group_id}/users/{user_id}", groups.remove_member),

    route("GET", "/v3/roles", roles.list_roles),
    route("POST", "/v3/roles", roles.create_role),
    route("GET", "/v3/roles/{role_id}", roles.show_role),
    route("PATCH", "/v3/roles/{role_id}", roles.update_role),
    route("DELETE", "/v3/roles/{role_id}", roles.delete_role),
    route("GET", "/v3/roles/{prior_role_id}/implies", roles.list_implied),
    route("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.create_implied),
    route("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.get_implied),
    route("HEAD", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.check_implied),
    route("DELETE", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.delete_implied),
    route("GET", "/v3/role_inferences", roles.role_inferences),

    route("GET", "/v3/role_assignments", a.role_assignments),
] + _grant_routes()
