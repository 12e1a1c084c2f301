"""Cinder's default policies (project-scoped personas, as upstream since 2023.1)."""
from onestack.policy import Rule

ADMIN = "role:admin"
READER = "rule:admin_api or (role:reader and project_id:%(project_id)s)"
MEMBER = "rule:admin_api or (role:member and project_id:%(project_id)s)"
P = ("project",)


def _rules() -> list[Rule]:
    out = [Rule("admin_api", ADMIN)]
    reader = ["volume:get", "volume:get_all", "volume_extension:volume_image_metadata:show",
              "volume:get_snapshot", "volume:get_all_snapshots", "volume_extension:snapshot_attributes",
              "backup:get", "backup:get_all", "volume:get_transfer", "volume:get_all_transfers",
              "volume:attachment_get", "volume:attachment_get_all", "volume_extension:quotas:show",
              "volume:get_volume_metadata", "volume:get_snapshot_metadata", "limits_extension:used_limits",
              "volume_extension:types_manage:show"]
    member = ["volume:create", "volume:create_from_image", "volume:delete", "volume:update",
              "volume:extend", "volume:extend_attached_volume", "volume:retype",
              "volume_extension:volume_actions:upload_image", "volume:create_snapshot",
              "volume:delete_snapshot", "volume:update_snapshot", "backup:create", "backup:delete",
              "backup:restore", "backup:update", "volume:create_transfer", "volume:delete_transfer",
              "volume:accept_transfer", "volume:attachment_create", "volume:attachment_update",
              "volume:attachment_complete", "volume:attachment_delete",
              "volume_extension:volume_actions:attach", "volume_extension:volume_actions:detach",
              "volume_extension:volume_actions:reserve", "volume_extension:volume_actions:unreserve",
              "volume_extension:volume_actions:begin_detaching",
              "volume_extension:volume_actions:roll_detaching",
              "volume_extension:volume_actions:initialize_connection",
              "volume_extension:volume_actions:terminate_connection",
              "volume:update_readonly_flag", "volume:update_volume_metadata", "volume:delete_volume_metadata",
              "volume:update_snapshot_metadata", "volume:delete_snapshot_metadata",
              "volume:multiattach", "backup:update", "volume_extension:volume_image_metadata:set",
              "volume_extension:volume_image_metadata:remove"]
    admin = ["volume_extension:volume_admin_actions:reset_status",
             "volume_extension:volume_admin_actions:force_delete",
             "volume_extension:snapshot_admin_actions:reset_status",
             "volume_extension:snapshot_admin_actions:force_delete",
             "volume_extension:backup_admin_actions:reset_status",
             "volume_extension:backup_admin_actions:force_delete",
             "volume_extension:types_manage", "volume_extension:types_extra_specs:create",
             "volume_extension:types_extra_specs:update", "volume_extension:types_extra_specs:delete",
             "volume_extension:volume_type_access:addProjectAccess",
             "volume_extension:volume_type_access:removeProjectAccess",
             "volume_extension:quotas:update", "volume_extension:quotas:delete",
             "volume_extension:services:index", "volume_extension:services:update",
             "scheduler_extension:scheduler_stats:get_pools", "volume_extension:qos_specs_manage:get_all",
             "volume_extension:qos_specs_manage:create", "volume_extension:qos_specs_manage:delete",
             "volume_extension:qos_specs_manage:get", "volume_extension:qos_specs_manage:update",
             "volume_extension:volume_host_attribute", "volume_extension:volume_mig_status_attribute",
             "volume:get_all_tenants", "volume_extension:quota_classes",
             "volume_extension:quota_classes:update",
             "volume_extension:volume_admin_actions:force_detach"]
    everyone = ["volume_extension:types_extra_specs:index", "volume_extension:types_extra_specs:show",
                "volume_extension:type_get", "volume_extension:type_get_all",
                "volume_extension:volume_tenant_attribute", "volume_extension:access_types_extra_specs",
                "volume_extension:availability_zone_list", "volume_extension:quotas:show_defaults"]
    out += [Rule(n, READER, scope_types=P) for n in reader]
    out += [Rule(n, MEMBER, scope_types=P) for n in member]
    out += [Rule(n, "rule:admin_api", scope_types=P) for n in admin]
    out += [Rule(n, "", scope_types=P) for n in everyone]
    out += [Rule(n, READER, scope_types=P) for n in (
        "group:get", "group:get_all", "group:get_group_snapshot", "group:get_all_group_snapshots",
        "message:get", "message:get_all")]
    out += [Rule(n, MEMBER, scope_types=P) for n in (
        "group:create", "group:update", "group:delete", "group:create_group_snapshot",
        "group:delete_group_snapshot", "group:update_group_snapshot", "message:delete")]
    out += [Rule(n, "rule:admin_api", scope_types=P) for n in (
        "group:group_types:create", "group:group_types:update", "group:group_types:delete",
        "group:group_types_specs:get", "group:group_types_specs:get_all",
        "group:group_types_specs:create", "group:group_types_specs:update",
        "group:group_types_specs:delete", "group:reset_status", "group:reset_group_snapshot_status",
        "group:enable_replication", "group:disable_replication", "group:failover_replication",
        "group:list_replication_targets", "volume_extension:hosts",
        "volume_extension:volume_type_encryption:get", "volume_extension:volume_type_encryption:create",
        "volume_extension:volume_type_encryption:update", "volume_extension:volume_type_encryption:delete",
        "backup:backup-export", "backup:backup-import")]
    out += [Rule(n, "", scope_types=P) for n in ("group:group_types:get", "group:group_types:get_all")]
    out.append(Rule("volume:update_bootable", MEMBER, scope_types=P))
    out.append(Rule("volume_extension:volume_type_access", "rule:admin_api or (role:reader and "
                    "project_id:%(project_id)s)", scope_types=P))
    return out


RULES = _rules()
