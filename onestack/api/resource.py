"""Declare a resource's wire shape once.

A :class:`Resource` lists its :class:`Field` s: wire name, model attribute, type, whether
it is writable on create/update, filterable, sortable, and the microversions it exists
in. The same declaration validates request bodies (types, required, unknown fields),
renders responses, validates list filters and sort keys, and writes the coverage doc.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

from onestack import errors
from onestack.api.microversion import APIVersion

_MISSING = object()
_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array",
               float: "number"}


@dataclasses.dataclass
class Field:
    wire: str
    attr: str | None = None          # model attribute; defaults to the wire name
    type: type | tuple[type, ...] | None = str
    create: bool = False             # accepted in create bodies
    update: bool = False             # accepted in update bodies
    required: bool = False           # required on create
    nullable: bool = False
    max_length: int | None = None
    min_length: int | None = None
    choices: tuple[Any, ...] | None = None
    filter: bool = False             # usable as ?wire=value
    sort: bool = False               # usable as a sort key
    render: Callable[[Any, Any], Any] | None = None   # (obj, req_version) -> wire value
    parse: Callable[[Any], Any] | None = None         # wire value -> model value (after checks)
    min_version: str | None = None
    max_version: str | None = None
    shown: bool = True               # rendered in responses

    def __post_init__(self) -> None:
        if self.attr is None:
            self.attr = self.wire

    def in_version(self, version: APIVersion | None) -> bool:
        return version is None or version.matches(self.min_version, self.max_version)

    def check(self, value: Any, resource: str) -> Any:
        where = f"Invalid input for field '{self.wire}'"
        if value is None:
            if not self.nullable:
                raise errors.ValidationError(f"{where}: None is not of type '{self._tname()}'.")
            return None
        if self.type is not None:
            types = self.type if isinstance(self.type, tuple) else (self.type,)
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if not ok:
                raise errors.ValidationError(f"{where}: {value!r} is not of type '{self._tname()}'.")
        if isinstance(value, str):
            if self.max_length is not None and len(value) > self.max_length:
                raise errors.ValidationError(
                    f"{where}: {value[:40]!r} is too long (maximum {self.max_length} characters).")
            if self.min_length is not None and len(value) < self.min_length:
                raise errors.ValidationError(
                    f"{where}: {value!r} is too short (minimum {self.min_length} characters).")
        if self.choices is not None and value not in self.choices:
            raise errors.ValidationError(f"{where}: {value!r} is not one of {list(self.choices)}.")
        return self.parse(value) if self.parse else value

    def _tname(self) -> str:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return "/".join(_TYPE_NAMES.get(t, getattr(t, "__name__", "?")) for t in types)


@dataclasses.dataclass
class Resource:
    name: str                          # "project"
    collection: str                    # "projects"
    fields: list[Field]
    allow_extra: bool = False          # extra body keys kept (e.g. Keystone's extra attributes)

    def __post_init__(self) -> None:
        self.by_wire = {f.wire: f for f in self.fields}

    def parse(self, body: Any, mode: str = "create", version: APIVersion | None = None,
              ignore: Iterable[str] = ()) -> dict[str, Any]:
        """Validate a create/update body; returns {attr: value} (+ '_extra' when allowed)."""
        if not isinstance(body, dict):
            raise errors.ValidationError(f"The {self.name} must be a JSON object.")
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        ignore = set(ignore)
        for key, value in body.items():
            f = self.by_wire.get(key)
            if f is None or not f.in_version(version) or not (f.create if mode == "create" else f.update):
                if key in ignore:
                    continue
                if self.allow_extra and f is None:
                    extra[key] = value
                    continue
                raise errors.ValidationError(
                    f"Additional properties are not allowed ('{key}' was unexpected).")
            out[f.attr] = f.check(value, self.name)
        if mode == "create":
            for f in self.fields:
                if f.required and f.in_version(version) and f.attr not in out:
                    raise errors.ValidationError(f"'{f.wire}' is a required property.")
        if extra:
            out["_extra"] = extra
        return out

    def render(self, obj: Any, version: APIVersion | None = None,
               only: Iterable[str] | None = None) -> dict[str, Any]:
        only_set = set(only) if only else None
        out: dict[str, Any] = {}
        for f in self.fields:
            if not f.shown or not f.in_version(version):
                continue
            if only_set is not None and f.wire not in only_set:
                continue
            out[f.wire] = f.render(obj, version) if f.render else getattr(obj, f.attr)
        return out

    def filters(self, query: Iterable[tuple[str, str]], known_other: Iterable[str] = (),
                strict: bool = False) -> dict[str, str]:
        """{attr: value} of the filterable query parameters; unknown ones are ignored
        (upstream's default) unless ``strict``."""
        other = set(known_other)
        out: dict[str, str] = {}
        for key, value in query:
            f = self.by_wire.get(key)
            if f is not None and f.filter:
                out[f.attr] = value
            elif strict and key not in other:
                raise errors.BadRequest(f"Invalid filter {key!r} for {self.collection}.")
        return out

    @property
    def sort_keys(self) -> list[str]:
        return [f.wire for f in self.fields if f.sort]

    def coverage_rows(self) -> list[str]:
        """Markdown table rows for docs/api-coverage."""
        rows = []
        for f in self.fields:
            flags = [w for w, on in (("create", f.create), ("update", f.update), ("filter", f.filter),
                                     ("sort", f.sort), ("required", f.required)) if on]
            ver = f"{f.min_version or ''}..{f.max_version or ''}" if (f.min_version or f.max_version) else ""
            rows.append(f"| `{f.wire}` | {', '.join(flags)} | {ver} |")
        return rows
