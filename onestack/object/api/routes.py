"""The object-storage route table (under /object; /info, /healthcheck and
/crossdomain.xml are also answered at the root, where Swift clients look for them)."""
from onestack.api.routing import route
from onestack.object.api import middleware, s3, swift

A = "/v1/{account}"
C = "/v1/{account}/{container}"
O = "/v1/{account}/{container}/{path}"
ANON = {"auth": False, "auth_optional": True, "microversioned": False}

ROUTES = [
    route("GET", "/", swift.root, auth=False, microversioned=False),
    route("GET", "/info", swift.root, auth=False, microversioned=False),
    route("GET", "/healthcheck", swift.root, auth=False, microversioned=False),
    route("GET", "/crossdomain.xml", swift.root, auth=False, microversioned=False),
    route("GET", A, swift.account_get, **ANON),
    route("POST", A, swift.account_post, stream=True, **ANON),
    route("PUT", A, swift.account_put, stream=True, **ANON),
    route("DELETE", A, swift.account_delete, stream=True, **ANON),
    route("OPTIONS", A, middleware.preflight, auth=False),
    route("GET", C, swift.container_get, **ANON),
    route("PUT", C, swift.container_put, stream=True, **ANON),
    route("POST", C, swift.container_post, stream=True, **ANON),
    route("DELETE", C, swift.container_delete, **ANON),
    route("OPTIONS", C, middleware.preflight, auth=False),
    route("GET", O, swift.object_get, **ANON),
    route("PUT", O, swift.object_put, stream=True, **ANON),
    route("POST", O, swift.object_post, stream=True, **ANON),
    route("DELETE", O, swift.object_delete, **ANON),
    route("COPY", O, swift.object_copy, stream=True, **ANON),
    route("OPTIONS", O, middleware.preflight, auth=False),
] + s3.ROUTES
