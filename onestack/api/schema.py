"""JSON-Schema validation of request bodies (for APIs whose upstream contract is a JSON
schema: Nova, Placement). Errors become a 400 with the validator's message."""
from __future__ import annotations

import functools
import json
from typing import Any

from onestack import errors

# jsonschema is imported on first use (it costs ~0.1 s of every start-up otherwise).


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Any:
    import jsonschema
    return jsonschema.Draft4Validator(json.loads(schema_json),
                                      format_checker=jsonschema.FormatChecker())


def validate(body: Any, schema: dict[str, Any], prefix: str = "Invalid input for field/attribute",
             error: type[errors.OpenStackError] = errors.ValidationError) -> Any:
    """Raise ``error`` (400 by default) unless ``body`` matches ``schema``; returns ``body``."""
    import jsonschema.exceptions
    v = _validator(json.dumps(schema, sort_keys=True))
    err = jsonschema.exceptions.best_match(v.iter_errors(body))
    if err is not None:
        path = ".".join(str(p) for p in err.absolute_path)
        if prefix.endswith(":"):
            raise error(f"{prefix} {err.message}")
        if path:
            raise error(f"{prefix} {path}. Value: {_short(err.instance)}. {err.message}")
        raise error(f"Invalid input for the request body: {err.message}")
    return body


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
