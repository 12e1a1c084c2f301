"""Schema fragments shared by compute request schemas."""
NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\s](.*[^\s])?$"}
NAME_LOOSE = {"type": "string", "minLength": 1, "maxLength": 255}
DESCRIPTION = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
UUID = {"type": "string", "format": "uuid"}
METADATA = {"type": "object", "patternProperties": {
    r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}}, "additionalProperties": False}
POSITIVE_INT = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1}
NON_NEG_INT = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0}
BOOL = {"type": ["boolean", "string"], "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes",
                                                "yes", False, "False", "FALSE", "false", "0", "OFF", "Off", "off",
                                                "NO", "No", "no"]}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
TAGS = {"type": "array", "items": TAG, "maxItems": 50}


def obj(props: dict, required: list[str] | None = None, extra: bool = False) -> dict:
    out = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        out["required"] = required
    return out


def truthy(value) -> bool:
    return str(value).lower() in ("true", "1", "on", "yes")
