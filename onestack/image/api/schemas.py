"""/v2/schemas/*: the JSON schemas Glance publishes (clients use them to validate)."""
from __future__ import annotations

from typing import Any

from onestack.api.routing import Req
from onestack.image import service

_UUID = service.UUID_RE.pattern


def _nullable(t: str, **kw: Any) -> dict[str, Any]:
    return {"type": ["null", t], **kw}


def _ro(desc: str, t: Any = "string", **kw: Any) -> dict[str, Any]:
    return {"description": desc, "readOnly": True, "type": t, **kw}


def _extra(desc: str, **kw: Any) -> dict[str, Any]:
    return {"description": desc, "is_base": False, "type": "string", **kw}


_KEYS = "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"


def image_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"description": "An identifier for the image", "pattern": _UUID, "type": "string"},
        "name": _nullable("string", description="Descriptive name for the image", maxLength=255),
        "status": _ro("Status of the image", enum=list(service.STATUSES)),
        "visibility": {"description": "Scope of image accessibility", "type": "string",
                       "enum": ["community", "public", "private", "shared"]},
        "protected": {"description": "If true, image will not be deletable.", "type": "boolean"},
        "os_hidden": {"description": "If true, image will not appear in default image list "
                      "response.", "type": "boolean"},
        "checksum": _ro("md5 hash of image contents.", ["null", "string"], maxLength=32),
        "os_hash_algo": _ro("Algorithm to calculate the os_hash_value", ["null", "string"],
                            maxLength=64),
        "os_hash_value": _ro("Hexdigest of the image contents using the algorithm specified by "
                             "the os_hash_algo", ["null", "string"], maxLength=128),
        "owner": _nullable("string", description="Owner of the image", maxLength=255),
        "size": _ro("Size of image file in bytes", ["null", "integer"]),
        "virtual_size": _ro("Virtual size of image in bytes", ["null", "integer"]),
        "container_format": _nullable("string", description="Format of the container",
                                      enum=[None, *service.CONTAINER_FORMATS]),
        "disk_format": _nullable("string", description="Format of the disk",
                                 enum=[None, *service.DISK_FORMATS]),
        "created_at": _ro("Date and time of image registration"),
        "updated_at": _ro("Date and time of the last image modification"),
        "tags": {"description": "List of strings related to the image", "type": "array",
                 "items": {"type": "string", "maxLength": 255}},
        "direct_url": _ro("URL to access the image file kept in external store"),
        "min_ram": {"description": "Amount of ram (in MB) required to boot image.",
                    "type": "integer"},
        "min_disk": {"description": "Amount of disk space (in GB) required to boot image.",
                     "type": "integer"},
        "self": _ro("An image self url"),
        "file": _ro("An image file url"),
        "stores": _ro("Store in which image data resides.  Only present when the operator has "
                      "enabled multiple stores.  May be a comma-separated list of store "
                      "identifiers."),
        "schema": _ro("An image schema url"),
        "locations": {"description": "A set of URLs to access the image file kept in external "
                      "store", "type": "array", "items": {
                          "type": "object", "required": ["url", "metadata"],
                          "properties": {"url": {"type": "string", "maxLength": 255},
                                         "metadata": {"type": "object"}}}},
        "kernel_id": _extra("ID of image stored in Glance that should be used as the kernel "
                            "when booting an AMI-style image.", pattern=_UUID,
                            type=["null", "string"]),
        "ramdisk_id": _extra("ID of image stored in Glance that should be used as the ramdisk "
                             "when booting an AMI-style image.", pattern=_UUID,
                             type=["null", "string"]),
        "instance_uuid": _extra("Metadata which can be used to record which instance this image "
                                "is associated with. (Informational only, does not create an "
                                "instance snapshot.)"),
        "architecture": _extra(f"Operating system architecture as specified in {_KEYS}"),
        "os_distro": _extra(f"Common name of operating system distribution as specified in "
                            f"{_KEYS}"),
        "os_version": _extra("Operating system version as specified by the distributor"),
    }
    return {
        "name": "image", "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [{"href": "{self}", "rel": "self"}, {"href": "{file}", "rel": "enclosure"},
                  {"href": "{schema}", "rel": "describedby"}],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {"images": {"type": "array", "items": image_schema()},
                       "schema": {"type": "string"}, "first": {"type": "string"},
                       "next": {"type": "string"}},
        "links": [{"href": "{first}", "rel": "first"}, {"href": "{next}", "rel": "next"},
                  {"href": "{schema}", "rel": "describedby"}],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"description": "Date and time of image member creation",
                           "type": "string"},
            "image_id": {"description": "An identifier for the image", "pattern": _UUID,
                         "type": "string"},
            "member_id": {"description": "An identifier for the image member (tenantId)",
                          "type": "string"},
            "status": {"description": "The status of this image member", "type": "string",
                       "enum": list(service.MEMBER_STATUSES)},
            "updated_at": {"description": "Date and time of last modification of image member",
                           "type": "string"},
            "schema": {"readOnly": True, "type": "string"},
        },
    }


def members_schema() -> dict[str, Any]:
    return {"name": "members",
            "properties": {"members": {"type": "array", "items": member_schema()},
                           "schema": {"type": "string"}},
            "links": [{"href": "{schema}", "rel": "describedby"}]}


def task_schema() -> dict[str, Any]:
    s = {"type": "string"}
    return {"name": "task", "properties": {
        "id": {"description": "An identifier for the task", "pattern": _UUID, "type": "string"},
        "type": {"description": "The type of task represented by this content", "type": "string",
                 "enum": ["import", "api_image_import", "location_import"]},
        "status": {"description": "The current status of this task", "type": "string",
                   "enum": ["pending", "processing", "success", "failure"]},
        "input": {"description": "The parameters required by task, JSON blob",
                  "type": ["null", "object"]},
        "result": {"description": "The result of current task, JSON blob",
                   "type": ["null", "object"]},
        "owner": {"description": "An identifier for the owner of this task", "type": "string"},
        "message": {"description": "Human-readable informative message only included when "
                    "appropriate (usually on failure)", "type": "string"},
        "image_id": {"description": "Image associated with the task", "type": "string"},
        "request_id": {"description": "Human-readable informative request-id", "type": "string"},
        "user_id": {"description": "User associated with the task", "type": "string"},
        "expires_at": {"description": "Datetime when this resource would be subject to removal",
                       "type": ["null", "string"]},
        "created_at": {"description": "Datetime when this resource was created", **s},
        "updated_at": {"description": "Datetime when this resource was updated", **s},
        "self": {"readOnly": True, **s}, "schema": {"readOnly": True, **s}}}


def tasks_schema() -> dict[str, Any]:
    return {"name": "tasks", "properties": {"tasks": {"type": "array", "items": task_schema()},
                                            "schema": {"type": "string"},
                                            "first": {"type": "string"},
                                            "next": {"type": "string"}},
            "links": [{"href": "{schema}", "rel": "describedby"}, {"href": "{first}", "rel": "first"},
                      {"href": "{next}", "rel": "next"}]}


def show_image(req: Req) -> dict:
    return image_schema()


def show_images(req: Req) -> dict:
    return images_schema()


def show_member(req: Req) -> dict:
    return member_schema()


def show_members(req: Req) -> dict:
    return members_schema()


def show_task(req: Req) -> dict:
    return task_schema()


def show_tasks(req: Req) -> dict:
    return tasks_schema()


_METADEF_NAMES = {"namespace": "namespace", "namespaces": "namespaces", "object": "object",
                  "objects": "objects", "property": "property", "properties": "properties",
                  "resource_type": "resource_type_association",
                  "resource_types": "resource_type_associations", "tag": "tag", "tags": "tags"}


def _metadef_single(kind: str) -> dict[str, Any]:
    s = {"type": "string"}
    common = {"created_at": {"type": "string", "readOnly": True, "format": "date-time"},
              "updated_at": {"type": "string", "readOnly": True, "format": "date-time"}}
    props: dict[str, Any] = {
        "namespace": {"namespace": {"type": "string", "maxLength": 80},
                      "display_name": {"type": "string", "maxLength": 80},
                      "description": {"type": "string", "maxLength": 500},
                      "visibility": {"type": "string", "enum": ["public", "private"]},
                      "protected": {"type": "boolean"}, "owner": {"type": "string", "maxLength": 255},
                      "resource_type_associations": {"type": "array"},
                      "properties": {"type": "object"}, "objects": {"type": "array"},
                      "tags": {"type": "array"}, "schema": s, "self": s, **common},
        "object": {"name": {"type": "string", "maxLength": 80}, "description": s,
                   "required": {"type": "array", "items": s}, "properties": {"type": "object"},
                   "schema": s, "self": s, **common},
        "property": {"name": {"type": "string", "maxLength": 80}, "title": s, "description": s,
                     "type": {"type": "string", "enum": [t for t in
                              ("array", "boolean", "integer", "number", "object", "string")]},
                     "enum": {"type": "array"}, "default": {}, "readonly": {"type": "boolean"}},
        "resource_type": {"name": {"type": "string", "maxLength": 80}, "prefix": s,
                          "properties_target": s, **common},
        "tag": {"name": {"type": "string", "maxLength": 255}, **common},
    }[kind]
    out: dict[str, Any] = {"name": _METADEF_NAMES[kind], "properties": props,
                           "additionalProperties": False}
    if kind in ("namespace", "object", "property", "resource_type", "tag"):
        out["required"] = ["namespace"] if kind == "namespace" else ["name"]
    if kind == "property":
        out["required"] = ["name", "title", "type"]
    return out


def metadef_schema(req: Req) -> dict:
    which = req.path.rstrip("/").rsplit("/", 1)[1]
    single = {"namespaces": "namespace", "objects": "object", "properties": "property",
              "resource_types": "resource_type", "tags": "tag"}
    if which in single:
        item = _metadef_single(single[which])
        key = {"resource_types": "resource_type_associations"}.get(which, which)
        return {"name": _METADEF_NAMES[which], "properties": {
            key: {"type": "array", "items": item}, "schema": {"type": "string"},
            "first": {"type": "string"}, "next": {"type": "string"}},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                      {"rel": "describedby", "href": "{schema}"}]}
    return _metadef_single(which)
