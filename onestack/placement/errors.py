"""Placement errors: HTTP class from onestack.errors plus upstream's error ``code`` (1.23+)."""
from onestack import errors


class _Coded:
    placement_code = "placement.undefined_code"


class NotFound(_Coded, errors.NotFound):
    pass


class ProviderNotFound(_Coded, errors.NotFound):
    placement_code = "placement.resource_provider.not_found"


class BadRequest(_Coded, errors.BadRequest):
    pass


class QueryBadValue(_Coded, errors.BadRequest):
    placement_code = "placement.query.bad_value"


class QueryDuplicateKey(_Coded, errors.BadRequest):
    placement_code = "placement.query.duplicate_key"


class Conflict(_Coded, errors.Conflict):
    pass


class ConcurrentUpdate(_Coded, errors.Conflict):
    placement_code = "placement.concurrent_update"


class DuplicateName(_Coded, errors.Conflict):
    placement_code = "placement.duplicate_name"


class InventoryInUse(_Coded, errors.Conflict):
    placement_code = "placement.inventory.inuse"


class ProviderInUse(_Coded, errors.Conflict):
    placement_code = "placement.resource_provider.inuse"


class CannotDeleteParent(_Coded, errors.Conflict):
    placement_code = "placement.resource_provider.cannot_delete_parent"


class ProviderRootConflict(_Coded, errors.BadRequest):
    placement_code = "placement.undefined_code"
