"""Compute errors: upstream Nova messages on onestack's HTTP classes."""
from onestack import errors


class ServerNotFound(errors.NotFound):
    message = "Instance {id} could not be found."


class FlavorNotFound(errors.NotFound):
    message = "Flavor {id} could not be found."


class KeypairNotFound(errors.NotFound):
    message = "Keypair {name} not found for user {user_id}"


class ServerGroupNotFound(errors.NotFound):
    message = "Instance group {id} could not be found."


class AggregateNotFound(errors.NotFound):
    message = "Aggregate {id} could not be found."


class InvalidState(errors.Conflict):
    """InstanceInvalidState: the action is not allowed in the server's current state."""
    message = "Cannot '{action}' instance {id} while it is in {attr} {state}"


class Locked(errors.Conflict):
    message = "Instance {id} is locked"


class QuotaExceeded(errors.OverQuota):
    """Nova answers 403 forbidden for quota errors on create."""


class NoValidHost(Exception):
    """Scheduling found no host (becomes an ERROR fault with code 500; ``details`` says why)."""

    def __init__(self, details: str = ""):
        super().__init__("No valid host was found. There are not enough hosts available.")
        self.details = details


class ServiceUnavailable(errors.BadRequest):
    """Another service compute depends on is not deployed in this cloud."""
