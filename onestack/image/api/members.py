"""/v2/images/{image_id}/members: sharing an image with other projects."""
from __future__ import annotations

from onestack import errors
from onestack.api.routing import Req
from onestack.image import service
from onestack.image.api import views


def _image(req: Req) -> dict:
    return service.get_image(req.ctx, req.params["image_id"])


def create(req: Req) -> dict:
    body = req.json_object()
    member = body.get("member")
    if not isinstance(member, str) or not member.strip() or len(member) > 255:
        raise errors.BadRequest("Member to be added not specified")
    img = _image(req)
    req.ctx.can("image:add_member", service.policy_target(req.ctx, img))
    return views.member(service.add_member(req.ctx, img["id"], member.strip()))


def index(req: Req) -> dict:
    img = _image(req)
    req.ctx.can("image:get_members", service.policy_target(req.ctx, img))
    return views.members(service.list_members(req.ctx, img["id"]))


def show(req: Req) -> dict:
    img = _image(req)
    req.ctx.can("image:get_member", service.policy_target(req.ctx, img,
                                                          member_id=req.params["member_id"]))
    return views.member(service.get_member(req.ctx, img["id"], req.params["member_id"]))


def update(req: Req) -> dict:
    body = req.json_object()
    status = body.get("status")
    if status not in service.MEMBER_STATUSES:
        raise errors.BadRequest(f"Invalid status: {status}")
    img = _image(req)
    member_id = req.params["member_id"]
    service.get_member(req.ctx, img["id"], member_id)      # 404 before 403, as upstream
    req.ctx.can("image:modify_member", service.policy_target(req.ctx, img, member_id=member_id))
    return views.member(service.update_member(req.ctx, img["id"], member_id, status))


def delete(req: Req) -> None:
    img = _image(req)
    member_id = req.params["member_id"]
    service.get_member(req.ctx, img["id"], member_id)
    req.ctx.can("image:delete_member", service.policy_target(req.ctx, img))
    service.delete_member(req.ctx, img["id"], member_id)
