"""Glance's policy defaults (glance/policies/image.py, base.py), project-scoped.

Names carry the service prefix ("image:get_image") in the shared engine."""
from onestack.policy import Rule

ADMIN = "role:admin"   # upstream rule:context_is_admin
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
IMAGE_MEMBER = "project_id:%(member_id)s"
_VISIBLE = ("project_id:%(project_id)s or " + IMAGE_MEMBER +
            " or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_READER = f"{ADMIN} or ({PROJECT_READER})"
GET_IMAGE = f"{ADMIN} or (role:reader and ({_VISIBLE}))"
DOWNLOAD_IMAGE = f"{ADMIN} or (role:member and ({_VISIBLE}))"
CREATE_IMAGE = f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)"
SHARED_MEMBER = f"{ADMIN} or (role:member and {IMAGE_MEMBER})"
READER_OR_SHARED_MEMBER = f"{ADMIN} or role:reader and (project_id:%(project_id)s or {IMAGE_MEMBER})"
SCOPE = ("project",)


def _r(name: str, check: str, desc: str, *ops: tuple[str, str]) -> Rule:
    return Rule("image:" + name, check, desc, scope_types=SCOPE, operations=tuple(ops))


RULES = [
    _r("add_image", CREATE_IMAGE, "Create new image", ("POST", "/v2/images")),
    _r("delete_image", ADMIN_OR_MEMBER, "Deletes the image", ("DELETE", "/v2/images/{image_id}")),
    _r("get_image", GET_IMAGE, "Get specified image", ("GET", "/v2/images/{image_id}")),
    _r("get_images", ADMIN_OR_READER, "Get all available images", ("GET", "/v2/images")),
    _r("modify_image", ADMIN_OR_MEMBER, "Updates given image", ("PATCH", "/v2/images/{image_id}")),
    _r("publicize_image", ADMIN, "Publicize given image", ("PATCH", "/v2/images/{image_id}")),
    _r("communitize_image", ADMIN_OR_MEMBER, "Communitize given image",
       ("PATCH", "/v2/images/{image_id}")),
    _r("download_image", DOWNLOAD_IMAGE, "Downloads given image",
       ("GET", "/v2/images/{image_id}/file")),
    _r("upload_image", ADMIN_OR_MEMBER, "Uploads data to specified image",
       ("PUT", "/v2/images/{image_id}/file")),
    _r("delete_image_location", ADMIN, "Deletes a location from an image"),
    _r("get_image_location", ADMIN_OR_READER, "Reads existing locations of an image"),
    _r("set_image_location", ADMIN_OR_MEMBER, "Sets location URI to given image"),
    _r("add_member", ADMIN_OR_MEMBER, "Create image member",
       ("POST", "/v2/images/{image_id}/members")),
    _r("delete_member", ADMIN_OR_MEMBER, "Delete image member",
       ("DELETE", "/v2/images/{image_id}/members/{member_id}")),
    _r("get_member", READER_OR_SHARED_MEMBER, "Show image member details",
       ("GET", "/v2/images/{image_id}/members/{member_id}")),
    _r("get_members", READER_OR_SHARED_MEMBER, "List image members",
       ("GET", "/v2/images/{image_id}/members")),
    _r("modify_member", SHARED_MEMBER, "Update image member",
       ("PUT", "/v2/images/{image_id}/members/{member_id}")),
    _r("deactivate", ADMIN_OR_MEMBER, "Deactivate image",
       ("POST", "/v2/images/{image_id}/actions/deactivate")),
    _r("reactivate", ADMIN_OR_MEMBER, "Reactivate image",
       ("POST", "/v2/images/{image_id}/actions/reactivate")),
    _r("copy_image", ADMIN, "Copy existing image to other stores",
       ("POST", "/v2/images/{image_id}/import")),
    _r("get_task", ADMIN, "Get an image task", ("GET", "/v2/tasks/{task_id}")),
    _r("get_tasks", ADMIN, "List image tasks", ("GET", "/v2/tasks")),
    _r("add_task", ADMIN, "Create an image task", ("POST", "/v2/tasks")),
    *[_r(f"{action}_{what}", (f"{ADMIN} or (role:reader and (project_id:%(project_id)s or "
                              "'public':%(visibility)s))") if action in ("get", "list") else ADMIN,
         f"{action} {what.replace('_', ' ')}")
      for what in ("metadef_namespace", "metadef_namespaces", "metadef_object", "metadef_objects",
                   "metadef_property", "metadef_propertys", "metadef_tag", "metadef_tags",
                   "metadef_resource_type_association", "metadef_resource_type_associations",
                   "metadef_resource_types")
      for action in ("get", "add", "modify", "delete", "remove", "list")],
    _r("stores_info_detail", ADMIN, "Expose store specific information",
       ("GET", "/v2/info/stores/detail")),
]
