"""Placement policy defaults (upstream names; admin or service, project scope)."""
from onestack.policy import Rule

ADMIN_OR_SERVICE = "role:admin or role:service"
_NAMES = [
    "resource_providers:list", "resource_providers:create", "resource_providers:show",
    "resource_providers:update", "resource_providers:delete",
    "resource_providers:inventories:list", "resource_providers:inventories:create",
    "resource_providers:inventories:show", "resource_providers:inventories:update",
    "resource_providers:inventories:delete",
    "resource_providers:aggregates:list", "resource_providers:aggregates:update",
    "resource_providers:usages", "usages",
    "resource_providers:traits:list", "resource_providers:traits:update",
    "resource_providers:traits:delete",
    "traits:list", "traits:show", "traits:update", "traits:delete",
    "resource_classes:list", "resource_classes:create", "resource_classes:show",
    "resource_classes:update", "resource_classes:delete",
    "allocations:list", "allocations:manage", "allocations:update", "allocations:delete",
    "resource_providers:allocations:list", "allocation_candidates:list", "reshaper:reshape",
]
RULES = [Rule(f"placement:{n}", ADMIN_OR_SERVICE, scope_types=("project",)) for n in _NAMES]
