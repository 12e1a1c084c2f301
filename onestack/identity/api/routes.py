"""Identity's route table (explicit). Paths are relative to the mount (/identity or /)."""
from onestack.api.routing import route
from onestack.identity import tokens
from onestack.identity.api import auth, directory_routes, extra_routes, versions

ROUTES = [
    route("GET", "/", versions.root, auth=False, inline=True),
    route("GET", "/v3", versions.v3, auth=False, inline=True),
    route("POST", "/v3/auth/tokens", auth.issue, auth=False),
    route("GET", "/v3/auth/tokens", auth.validate, inline=tokens.subject_cached),
    route("HEAD", "/v3/auth/tokens", auth.check, inline=tokens.subject_cached),
    route("DELETE", "/v3/auth/tokens", auth.revoke),
    route("GET", "/v3/auth/catalog", auth.auth_catalog),
    route("GET", "/v3/auth/projects", auth.auth_projects),
    route("GET", "/v3/auth/domains", auth.auth_domains),
    route("GET", "/v3/auth/system", auth.auth_system),
] + directory_routes.ROUTES + extra_routes.ROUTES
