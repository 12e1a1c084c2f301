"""POST /v2/images/{id}/import, GET /v2/images/{id}/tasks, /v2/tasks."""
from __future__ import annotations

from onestack.api.routing import Reply, Req
from onestack.image import imports, service


def import_image(req: Req) -> Reply:
    body = imports.parse_body(req.json())
    img = service.get_image(req.ctx, req.params["image_id"])
    target = service.policy_target(req.ctx, img)
    if body["method"] == "copy-image":
        req.ctx.can("image:copy_image", target)
    else:
        req.ctx.can("image:modify_image", target)
    imports.start(req.ctx, img["id"], body)
    return Reply(202, None)


def image_tasks(req: Req) -> dict:
    img = service.get_image(req.ctx, req.params["image_id"])
    req.ctx.can("image:get_image", service.policy_target(req.ctx, img))
    return {"tasks": imports.image_tasks(req.ctx, img["id"])}


def list_tasks(req: Req) -> dict:
    req.ctx.can("image:get_tasks", {"project_id": req.ctx.project_id})
    return {"tasks": imports.list_tasks(req.ctx), "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}


def show_task(req: Req) -> dict:
    req.ctx.can("image:get_task", {"project_id": req.ctx.project_id})
    return imports.get_task(req.ctx, req.params["task_id"])


def create_task(req: Req) -> Reply:
    """The legacy tasks API (deprecated upstream): validated and recorded, then failed, since
    onestack imports through POST /v2/images/{id}/import."""
    body = req.json_object()
    req.ctx.can("image:add_task", {"project_id": req.ctx.project_id})
    return Reply(201, imports.create_legacy_task(req.ctx, body))
