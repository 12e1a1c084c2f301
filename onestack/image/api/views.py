"""Wire shapes of images and members (Glance v2)."""
from __future__ import annotations

from typing import Any

from onestack.api.routing import Req

_ORDER = ("id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
          "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_disk", "min_ram",
          "disk_format", "container_format", "created_at", "updated_at", "tags")


def image(img: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: img[k] for k in _ORDER}
    for k, v in img["properties"].items():
        out.setdefault(k, v)
    if img.get("stores"):
        out["stores"] = ",".join(img["stores"])
    out["self"] = f"/v2/images/{img['id']}"
    out["file"] = f"/v2/images/{img['id']}/file"
    out["schema"] = "/v2/schemas/image"
    return out


def images(req: Req, rows: list[dict[str, Any]], limit: int | None) -> dict[str, Any]:
    from urllib.parse import urlencode
    body: dict[str, Any] = {"images": [image(r) for r in rows], "first": "/v2/images",
                            "schema": "/v2/schemas/images"}
    if limit and rows and len(rows) >= limit:
        kept = [(k, v) for k, v in req.query_items if k != "marker"]
        kept.append(("marker", rows[-1]["id"]))
        body["next"] = f"/v2/images?{urlencode(kept)}"
    return body


def member(mem: dict[str, Any]) -> dict[str, Any]:
    return {**mem, "schema": "/v2/schemas/member"}


def members(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"members": [member(r) for r in rows], "schema": "/v2/schemas/members"}
