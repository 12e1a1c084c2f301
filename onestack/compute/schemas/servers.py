"""Server create/update/action body schemas by microversion."""
from __future__ import annotations

from onestack.compute.schemas.common import (BOOL, DESCRIPTION, METADATA, NAME, NAME_LOOSE, TAGS, UUID, obj)

IPV4 = {"type": "string", "format": "ipv4"}
IPV6 = {"type": "string", "format": "ipv6"}
COUNT = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1}


def _bdm(v) -> dict:
    props = {
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "uuid": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._-]*$"},
        "image_id": UUID, "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "guest_format": {"type": "string", "maxLength": 255}, "device_type": {"type": "string", "maxLength": 255},
        "disk_bus": {"type": "string", "maxLength": 255},
        "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
        "device_name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^ ]*$"},
        "volume_size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
        "delete_on_termination": BOOL, "no_device": {}, "connection_info": {"type": "string", "maxLength": 16777215},
        "snapshot_id": UUID, "volume_id": UUID,
    }
    if v.matches("2.32"):
        props["tag"] = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
    if v.matches("2.67"):
        props["volume_type"] = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
    return obj(props)


def create(v) -> dict:
    net_item = {"uuid": {"type": "string", "format": "uuid"}, "port": {"type": ["string", "null"], "format": "uuid"},
                "fixed_ip": {"type": "string", "oneOf": [IPV4, IPV6]}}
    if v.matches("2.32"):
        net_item["tag"] = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
    networks: dict = {"type": "array", "items": obj(net_item)}
    if v.matches("2.37"):
        networks = {"oneOf": [networks, {"type": "string", "enum": ["none", "auto"]}]}
    props = {
        "name": NAME if not v.matches("2.1") or True else NAME_LOOSE,
        "imageRef": {"type": "string", "maxLength": 255, "pattern": r"^[^\s]*$"},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "adminPass": {"type": "string"},
        "metadata": METADATA,
        "networks": networks,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "accessIPv4": IPV4, "accessIPv6": IPV6,
        "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "user_data": {"type": "string", "format": "base64", "maxLength": 65535},
        "config_drive": BOOL,
        "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
        "block_device_mapping_v2": {"type": "array", "items": _bdm(v)},
        "block_device_mapping": {"type": "array", "items": {"type": "object"}},
        "security_groups": {"type": "array", "items": obj({"name": {"type": "string", "minLength": 1,
                                                                    "maxLength": 255}}, extra=False)},
        "min_count": COUNT, "max_count": COUNT, "return_reservation_id": BOOL,
    }
    if not v.matches("2.57"):
        props["personality"] = {"type": "array", "items": obj({"path": {"type": "string"},
                                                               "contents": {"type": "string", "format": "base64"}})}
    if v.matches("2.19"):
        props["description"] = DESCRIPTION
    if v.matches("2.52"):
        props["tags"] = TAGS
    if v.matches("2.63"):
        props["trusted_image_certificates"] = {"type": ["array", "null"], "minItems": 1, "maxItems": 50,
                                               "uniqueItems": True, "items": {"type": "string", "minLength": 1}}
    if v.matches("2.74"):
        props["host"] = {"type": "string", "minLength": 1, "maxLength": 255}
        props["hypervisor_hostname"] = {"type": "string", "minLength": 1, "maxLength": 255}
    if v.matches("2.90"):
        props["hostname"] = {"type": "string", "minLength": 1, "maxLength": 255 if v.matches("2.94") else 63,
                             "pattern": r"^[a-zA-Z0-9.-]+$" if v.matches("2.94") else r"^[a-zA-Z0-9-]+$"}
    required = ["name", "flavorRef"] + (["networks"] if v.matches("2.37") else [])
    hints = {"type": "object", "properties": {
        "group": UUID, "different_host": {"oneOf": [UUID, {"type": "array", "items": UUID}]},
        "same_host": {"oneOf": [UUID, {"type": "array", "items": UUID}]},
        "query": {"type": ["string", "object"]}, "target_cell": {"type": "string"},
        "different_cell": {"type": ["string", "array"]}, "build_near_host_ip": IPV4, "cidr": {"type": "string"}},
        "additionalProperties": True}
    return {"type": "object", "properties": {
        "server": obj(props, required), "os:scheduler_hints": hints, "OS-SCH-HNT:scheduler_hints": hints},
        "required": ["server"], "additionalProperties": False}


def update(v) -> dict:
    props = {"name": NAME, "accessIPv4": IPV4, "accessIPv6": IPV6,
             "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}}
    if v.matches("2.19"):
        props["description"] = DESCRIPTION
    if v.matches("2.90"):
        props["hostname"] = {"type": "string", "minLength": 1, "maxLength": 255 if v.matches("2.94") else 63,
                             "pattern": r"^[a-zA-Z0-9.-]+$" if v.matches("2.94") else r"^[a-zA-Z0-9-]+$"}
    if v.matches("2.104"):
        props["pinned_availability_zone"] = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
    return obj({"server": obj(props)}, ["server"])


def rebuild(v) -> dict:
    props = {"imageRef": {"type": "string", "minLength": 1}, "name": NAME, "adminPass": {"type": "string"},
             "metadata": METADATA, "preserve_ephemeral": {"type": "boolean"},
             "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
             "accessIPv4": IPV4, "accessIPv6": IPV6}
    if not v.matches("2.57"):
        props["personality"] = {"type": "array"}
    if v.matches("2.19"):
        props["description"] = DESCRIPTION
    if v.matches("2.54"):
        props["key_name"] = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
    if v.matches("2.57"):
        props["user_data"] = {"type": ["string", "null"], "format": "base64", "maxLength": 65535}
    if v.matches("2.63"):
        props["trusted_image_certificates"] = {"type": ["array", "null"], "minItems": 1, "maxItems": 50,
                                               "uniqueItems": True, "items": {"type": "string", "minLength": 1}}
    if v.matches("2.90"):
        props["hostname"] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9.-]+$"}
    return obj({"rebuild": obj(props, ["imageRef"])}, ["rebuild"])
