"""Identity's errors: code and message only (errors.render shapes them as Keystone does)."""
from onestack import errors


class AuthFailed(errors.Unauthorized):
    message = "The request you have made requires authentication."


class TokenNotFound(errors.NotFound):
    message = "Could not find token: {token_id}."


class DomainNotFound(errors.NotFound):
    message = "Could not find domain: {domain_id}."


class ProjectNotFound(errors.NotFound):
    message = "Could not find project: {project_id}."


class UserNotFound(errors.NotFound):
    message = "Could not find user: {user_id}."


class GroupNotFound(errors.NotFound):
    message = "Could not find group: {group_id}."


class RoleNotFound(errors.NotFound):
    message = "Could not find role: {role_id}."


class RegionNotFound(errors.NotFound):
    message = "Could not find region: {region_id}."


class ServiceNotFound(errors.NotFound):
    message = "Could not find service: {service_id}."


class EndpointNotFound(errors.NotFound):
    message = "Could not find endpoint: {endpoint_id}."


class Duplicate(errors.Conflict):
    message = "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}."
