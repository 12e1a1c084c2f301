"""/v2/images: create, list, show, update (JSON patch), delete, deactivate/reactivate, tags."""
from __future__ import annotations

from onestack import errors
from onestack.api import pagination
from onestack.api.routing import Reply, Req
from onestack.image import imports, service
from onestack.image.api import views

PATCH_TYPES = {"application/openstack-images-v2.1-json-patch": 10,
               "application/openstack-images-v2.0-json-patch": 4}


def _image(req: Req) -> dict:
    return service.get_image(req.ctx, req.params["image_id"])


def _target(req: Req, img: dict) -> dict:
    return service.policy_target(req.ctx, img)


def create(req: Req) -> Reply:
    values = service.parse_create(req.json())
    owner = values.get("owner", req.ctx.project_id)
    target = {"project_id": owner, "owner": owner, "visibility": values.get("visibility", "shared")}
    req.ctx.can("image:add_image", target)
    if values.get("visibility") == "public":
        req.ctx.can("image:publicize_image", target)
    elif values.get("visibility") == "community":
        req.ctx.can("image:communitize_image", target)
    img = service.create_image(req.ctx, values)
    return Reply(201, views.image(img), headers={
        "Location": f"{req.service_url}/v2/images/{img['id']}",
        "OpenStack-image-import-methods": ",".join(imports.enabled_methods()),
        "OpenStack-image-store-ids": ",".join(service.enabled_stores())})


def _sort(req: Req) -> list[tuple[str, str]]:
    q = req.query_items
    has_new = any(k == "sort" for k, _ in q)
    if has_new and any(k in ("sort_key", "sort_dir") for k, _ in q):
        raise errors.BadRequest("Old and new sorting syntax cannot be combined")
    pairs: list[tuple[str, str]] = []
    def key_ok(k: str) -> str:
        if k not in service.SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort key: {k}. It must be one of the following: "
                                    f"{', '.join(service.SORT_KEYS)}.")
        return k
    def dir_ok(d: str) -> str:
        if d not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {d}")
        return d
    if has_new:
        for item in req.query["sort"].strip().split(","):
            k, _, d = item.partition(":")
            pairs.append((key_ok(k.strip()), dir_ok((d or "desc").strip())))
        return pairs
    keys = [key_ok(k.strip()) for k in req.query_all("sort_key")]
    dirs = [dir_ok(d.strip()) for d in req.query_all("sort_dir")]
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise errors.BadRequest("Number of sort dirs does not match the number of sort keys")
    if not keys:
        keys = ["created_at"]
    if not dirs:
        dirs = ["desc"]
    return [(k, dirs[i] if len(dirs) > 1 else dirs[0]) for i, k in enumerate(keys)]


def not_found(req: Req) -> None:
    """/v2/images/ with an empty id (GET/DELETE/PATCH): upstream answers 404."""
    raise errors.NotFound("The resource could not be found.")


def index(req: Req) -> dict:
    if req.path.endswith("/"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("image:get_images", {"project_id": req.ctx.project_id})
    raw_limit = req.query.get("limit")
    if raw_limit is not None:
        try:
            if int(raw_limit) < 0:
                raise errors.BadRequest("limit param must be positive")
        except ValueError:
            raise errors.BadRequest("limit param must be an integer") from None
    limit = pagination.parse_limit(raw_limit, default=25, maximum=1000)
    sort = _sort(req)
    filters = [(k, v) for k, v in req.query_items if k not in ("limit", "marker", "sort",
                                                                "sort_key", "sort_dir")]
    rows = service.list_images(req.ctx, filters, sort, limit, req.query.get("marker"))
    return views.images(req, rows, limit)


def show(req: Req) -> dict:
    img = _image(req)
    req.ctx.can("image:get_image", _target(req, img))
    return views.image(img)


def update(req: Req) -> dict:
    ctype = (req.headers.get("content-type") or "").split(";")[0].strip()
    if ctype not in PATCH_TYPES:
        allowed = ", ".join(sorted(PATCH_TYPES))
        raise errors.UnsupportedMediaType(f"Image PATCH expects Content-Type one of: {allowed}",
                                          headers={"Accept-Patch": allowed})
    changes = service.parse_patch(req.json(), PATCH_TYPES[ctype])
    img = _image(req)
    target = _target(req, img)
    req.ctx.can("image:modify_image", target)
    for ch in changes:
        if ch["name"] == "visibility" and ch.get("value") == "public" != img["visibility"]:
            req.ctx.can("image:publicize_image", target)
        if ch["name"] == "visibility" and ch.get("value") == "community" != img["visibility"]:
            req.ctx.can("image:communitize_image", target)
    return views.image(service.update_image(req.ctx, img["id"], changes))


def delete(req: Req) -> None:
    img = _image(req)
    req.ctx.can("image:delete_image", _target(req, img))
    service.delete_image(req.ctx, img["id"])


def delete_from_store(req: Req) -> None:
    """DELETE /v2/stores/{store_id}/{image_id}: drop one store's copy of the data."""
    img = _image(req)
    req.ctx.can("image:delete_image_location", _target(req, img))
    service.delete_from_store(req.ctx, img["id"], req.params["store_id"])


def deactivate(req: Req) -> None:
    img = _image(req)
    req.ctx.can("image:deactivate", _target(req, img))
    service.set_active_state(req.ctx, img["id"], "deactivate")


def reactivate(req: Req) -> None:
    img = _image(req)
    req.ctx.can("image:reactivate", _target(req, img))
    service.set_active_state(req.ctx, img["id"], "reactivate")


def add_tag(req: Req) -> None:
    img = _image(req)
    req.ctx.can("image:modify_image", _target(req, img))
    service.add_tag(req.ctx, img["id"], req.params["tag"])


def delete_tag(req: Req) -> None:
    img = _image(req)
    req.ctx.can("image:modify_image", _target(req, img))
    service.delete_tag(req.ctx, img["id"], req.params["tag"])
