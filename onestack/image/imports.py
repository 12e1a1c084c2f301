"""Interoperable image import: glance-direct (from the staging area), web-download (from an
allow-listed URL) and copy-image, run as durable tasks on the task engine.

``POST /v2/images/{id}/import`` writes the image's new status (``importing``), an
``image_tasks`` row (what /v2/images/{id}/tasks and /v2/tasks show) and the engine task in
one transaction. Steps are idempotent: ``fetch`` (web-download: into the staging area),
``finish`` (staging -> store through the same inspection and checksums as an upload). On
failure the image goes back to ``queued`` with the staged data removed.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from sqlalchemy import select

from onestack import db, errors, tasks
from onestack.db.base import utcnow
from onestack.image import inspector
from onestack.image import models as m
from onestack.image import service

log = logging.getLogger(__name__)
METHODS = ("glance-direct", "web-download", "copy-image")
KIND = "image.import"


def enabled_methods() -> list[str]:
    cfg = service.settings()
    methods = [x.strip() for x in cfg.enabled_import_methods.split(",") if x.strip()]
    return [x for x in methods if x in METHODS and (x != "web-download" or cfg.web_download_enabled)]


def _check_uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri:
        raise errors.BadRequest("Import method web-download requires a 'uri'.")
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise errors.BadRequest("URI for web-download does not pass filtering: only http and "
                                "https URLs are allowed.")
    allowed = {x.strip().lower() for x in service.settings().web_download_allowed_hosts.split(",")
               if x.strip()}
    host = parsed.hostname.lower()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if host not in allowed and f"{host}:{port}" not in allowed:
        raise errors.BadRequest(f"URI for web-download does not pass filtering: host {host}:{port} "
                                "is not in the allowed list.")
    return uri


def parse_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    method = body.get("method")
    if not isinstance(method, dict) or "name" not in method:
        raise errors.BadRequest("Import request requires a 'method' field with a 'name'.")
    name = method["name"]
    if name not in enabled_methods():
        raise errors.BadRequest(f"Unknown import method name '{name}'.")
    for flag in ("all_stores_must_succeed", "all_stores"):
        if flag in body and not isinstance(body[flag], bool):
            raise errors.BadRequest(f"'{flag}' must be boolean value only")
    stores = body.get("stores")
    if stores is not None:
        if not isinstance(stores, list) or not all(isinstance(x, str) for x in stores):
            raise errors.BadRequest("'stores' must be a list of store identifiers.")
        for sid in stores:
            if sid not in service.enabled_stores():
                raise errors.Conflict(f"Store for identifier {sid} not found")
    if body.get("all_stores"):
        stores = service.enabled_stores()
    out = {"method": name, "stores": stores or [service.default_store_id()],
           "all_stores": body.get("all_stores", False)}
    if name == "web-download":
        out["uri"] = _check_uri(method.get("uri"))
    return out


def start(ctx: Any, image_id: str, req: dict[str, Any]) -> str:
    """Validate the image's state for the method and queue the import; returns the task id."""
    method = req["method"]
    with db.write() as s:
        img = service._get_row(s, ctx, image_id)
        if method == "copy-image":
            if img.status != "active":
                raise errors.Conflict("Only images with status active can be targeted for copying")
            have = [x for x in (img.stores or "").split(",") if x]
            targets = [sid for sid in req["stores"] if sid not in have]
            if targets:
                return _submit(s, ctx, img, method, req, targets)
            if not req.get("all_stores"):
                raise errors.Conflict(f"Image {image_id} is already present at store "
                                      f"'{','.join(req['stores'])}'.")
            # every store already has it: nothing to copy (upstream skips such stores)
            task_id = str(uuid.uuid4())
            now = utcnow()
            s.add(m.ImageTask(id=task_id, type="api_image_import", status="success",
                              owner=img.owner, image_id=image_id,
                              input=json.dumps({"image_id": image_id, "import_req": {
                                  "method": {"name": method}, "all_stores": True}}),
                              result=json.dumps({"image_id": image_id}), message="",
                              request_id=ctx.request_id, user_id=ctx.user_id, created_at=now,
                              updated_at=now))
            _set_props(s, image_id, {"os_glance_import_task": task_id,
                                     "os_glance_importing_to_stores": "",
                                     "os_glance_failed_import": ""})
            return task_id
        if method == "glance-direct":
            if img.status != "uploading" or img.upload_owner is not None \
                    or not service.staging().exists(image_id):
                raise errors.Conflict("Image needs to be staged before 'glance-direct' method can "
                                      "be used")
        elif img.status != "queued":
            raise errors.Conflict(f"Image {image_id} is not in queued status; it is {img.status}.")
        if img.disk_format is None or img.container_format is None:
            raise errors.Conflict("'disk_format' needs to be set before import")
        return _submit(s, ctx, img, method, req, req["stores"])


def _submit(s: Any, ctx: Any, img: m.Image, method: str, req: dict[str, Any], stores: list[str]) -> str:
    """The import task and its bookkeeping, in the caller's unit of work ``s``. A copy
    leaves the image active; the other methods move it to importing."""
    task_id = str(uuid.uuid4())
    now = utcnow()
    s.add(m.ImageTask(id=task_id, type="api_image_import", status="processing",
                      owner=img.owner, image_id=img.id,
                      input=json.dumps({"image_id": img.id, "import_req": {
                          "method": {"name": method, **({"uri": req["uri"]} if "uri" in req else {})},
                          "stores": stores}, "backend": stores}),
                      message="", request_id=ctx.request_id, user_id=ctx.user_id,
                      created_at=now, updated_at=now))
    _set_props(s, img.id, {"os_glance_import_task": task_id,
                           "os_glance_importing_to_stores": ",".join(stores),
                           "os_glance_failed_import": ""})
    if method != "copy-image":
        img.status = "importing"
        img.upload_owner = None
        img.import_error = None
    img.updated_at = now
    tasks.submit(s, KIND, resource_type="image", resource_id=img.id, project_id=img.owner,
                 payload={"image_id": img.id, "task_id": task_id, "method": method,
                          "uri": req.get("uri"), "stores": stores})
    return task_id


# ------------------------------------------------------------------ task steps

def _fetch(run: tasks.TaskRun) -> None:
    p = run.payload
    if p["method"] != "web-download":
        return
    image_id = p["image_id"]
    st = service.staging()
    with db.read() as s:
        img = s.get(m.Image, image_id)
        if img is None or img.deleted:
            raise RuntimeError("image was deleted during import")
        owner = img.owner
        remaining = service._remaining_bytes(s, owner, "image_stage_total")
    _check_uri(p["uri"])
    cap = service.settings().image_size_cap
    max_size = cap if remaining is None else min(cap, remaining)
    w = st.writer(image_id, None, max_size, inspect=False)
    try:
        opener = urllib.request.build_opener(_NoRedirect)
        with opener.open(p["uri"], timeout=60) as resp:
            while True:
                data = resp.read(1 << 20)
                if not data:
                    break
                w.write(data)
        w.finish_stream()
        w.commit()
    except OverflowError:
        w.abort()
        raise RuntimeError("the downloaded image exceeds the size cap or the staging quota") from None
    except urllib.error.URLError as e:
        w.abort()
        raise RuntimeError(f"web-download failed: {e}") from None
    except BaseException:
        w.abort()
        raise


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects could leave the allow-list: refuse them."""

    def redirect_request(self, *args: Any, **kw: Any) -> None:
        raise urllib.error.URLError("redirects are not followed by web-download")


def _copy_to_stores(image_id: str, targets: list[str]) -> None:
    """Copy an active image's data to more stores (copy-image; extra import stores)."""
    for sid in targets:
        with db.read() as s:
            img = s.get(m.Image, image_id)
            if img is None or img.deleted:
                raise RuntimeError("image was deleted during the copy")
            have = [x for x in (img.stores or "").split(",") if x]
            if sid in have:
                continue                            # copied before a crash
            src = service.store_of({"stores": have})
        dst = service.data_store(sid)
        w = dst.writer(image_id, None, service.settings().image_size_cap, inspect=False)
        try:
            for data in src.read(image_id):
                w.write(data)
            w.finish_stream()
        except BaseException:
            w.abort()
            raise
        w.commit()
        with db.write() as s:
            img = s.get(m.Image, image_id)
            if img is None or img.deleted:
                dst.delete(image_id)
                raise RuntimeError("image was deleted during the copy")
            img.stores = ",".join([x for x in (img.stores or "").split(",") if x] + [sid])
            img.updated_at = utcnow()


def _finish(run: tasks.TaskRun) -> None:
    p = run.payload
    image_id = p["image_id"]
    targets = p.get("stores") or [service.default_store_id()]
    if p["method"] == "copy-image":
        _copy_to_stores(image_id, targets)
        with db.write() as s:
            _set_props(s, image_id, {"os_glance_importing_to_stores": ""})
        _task_done(p["task_id"], "success", "", {"image_id": image_id})
        return
    with db.read() as s:
        img = s.get(m.Image, image_id)
        if img is None or img.deleted:
            raise RuntimeError("image was deleted during import")
        done = img.status == "active"
        disk_format, container_format = img.disk_format, img.container_format
    if done:                                        # activated before a crash: copies left
        _copy_to_stores(image_id, targets[1:])
        return
    staged = service.staging().path(image_id)
    if not staged.is_file():
        raise RuntimeError("the staged data is gone")
    w = service.data_store(targets[0]).writer(image_id, disk_format, service.settings().image_size_cap,
                                              inspect=container_format == "bare")
    try:
        with open(staged, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data:
                    break
                w.write(data)
        w.finish_stream()
        result = service.inspect_and_check(str(w.tmp_path), disk_format, container_format)
    except inspector.ImageFormatError as e:
        w.abort()
        raise RuntimeError(f"Image failed format checks: {e}") from None
    except errors.OpenStackError as e:
        w.abort()
        raise RuntimeError(e.message) from None
    except BaseException:
        w.abort()
        raise
    w.commit()
    service.activate(image_id, w.size, w.md5.hexdigest(), w.sha512.hexdigest(), result,
                     expect_owner=None, store_id=targets[0])
    _copy_to_stores(image_id, targets[1:])
    service.staging().delete(image_id)
    with db.write() as s:
        _set_props(s, image_id, {"os_glance_importing_to_stores": ""})
    _task_done(p["task_id"], "success", "", {"image_id": image_id})


def _set_props(s: Any, image_id: str, values: dict[str, str]) -> None:
    """Set the os_glance_* bookkeeping properties upstream shows during an import."""
    for k, v in values.items():
        row = s.get(m.ImageProperty, (image_id, k))
        if row is None:
            s.add(m.ImageProperty(image_id=image_id, name=k, value=v))
        else:
            row.value = v


def _task_done(task_id: str, status: str, message: str, result: dict | None = None) -> None:
    with db.write() as s:
        t = s.get(m.ImageTask, task_id)
        if t is not None:
            t.status = status
            t.message = message
            t.result = json.dumps(result) if result is not None else None
            t.updated_at = utcnow()
            t.expires_at = utcnow() + dt.timedelta(hours=48)


def _failed(run: tasks.TaskRun, error: str) -> None:
    image_id = run.payload["image_id"]
    with db.write() as s:
        img = s.get(m.Image, image_id)
        failed = ",".join(run.payload.get("stores") or [service.default_store_id()])
        if img is not None and not img.deleted and img.status == "importing":
            img.status = "queued"
            img.staged_size = None
            img.import_error = error[:2000]
            img.updated_at = utcnow()
        if img is not None and not img.deleted:
            _set_props(s, image_id, {"os_glance_importing_to_stores": "",
                                     "os_glance_failed_import": failed})
    if run.payload.get("method") != "copy-image":
        service.staging().delete(image_id)
    _task_done(run.payload["task_id"], "failure", error[:2000])


SPEC = tasks.TaskSpec(kind=KIND, steps=[_fetch, _finish], on_failure=_failed, max_attempts=1)


# ------------------------------------------------------------------ tasks API views

def task_dict(t: m.ImageTask, admin_view: bool = True) -> dict[str, Any]:
    out = {"id": t.id, "type": t.type, "status": t.status, "owner": t.owner,
           "input": json.loads(t.input or "{}"), "result": json.loads(t.result) if t.result else None,
           "message": t.message or "", "image_id": t.image_id, "request_id": t.request_id,
           "user_id": t.user_id, "created_at": service._ts(t.created_at),
           "updated_at": service._ts(t.updated_at), "self": f"/v2/tasks/{t.id}",
           "schema": "/v2/schemas/task"}
    if t.expires_at is not None:
        out["expires_at"] = service._ts(t.expires_at)
    return out


def image_tasks(ctx: Any, image_id: str) -> list[dict[str, Any]]:
    with db.read() as s:
        service._get_row(s, ctx, image_id)
        rows = s.scalars(select(m.ImageTask).where(m.ImageTask.image_id == image_id)
                         .order_by(m.ImageTask.created_at.desc()))
        return [task_dict(t) for t in rows]


def list_tasks(ctx: Any) -> list[dict[str, Any]]:
    with db.read() as s:
        stmt = select(m.ImageTask).order_by(m.ImageTask.created_at.desc())
        if not ctx.is_admin:
            stmt = stmt.where(m.ImageTask.owner == ctx.project_id)
        return [task_dict(t) for t in s.scalars(stmt.limit(1000))]


def create_legacy_task(ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("type") != "import":
        raise errors.BadRequest(f"Invalid type value: {body.get('type')}")
    inp = body.get("input")
    if not isinstance(inp, dict) or not all(k in inp for k in ("import_from", "import_from_format",
                                                               "image_properties")):
        raise errors.BadRequest("Input does not contain 'import_from', 'import_from_format' and "
                                "'image_properties'.")
    _check_uri(inp["import_from"])      # 400 for anything outside the web-download allow-list
    now = utcnow()
    t = m.ImageTask(id=str(uuid.uuid4()), type="import", status="failure", owner=ctx.project_id,
                    input=json.dumps(inp), message="Legacy import tasks are not supported; use "
                    "the interoperable image import API.", request_id=ctx.request_id,
                    user_id=ctx.user_id, created_at=now, updated_at=now,
                    expires_at=now + dt.timedelta(hours=48))
    with db.write() as s:
        s.add(t)
        s.flush()
        return task_dict(t)


def get_task(ctx: Any, task_id: str) -> dict[str, Any]:
    with db.read() as s:
        t = s.get(m.ImageTask, task_id)
        if t is None or not (ctx.is_admin or t.owner == ctx.project_id):
            raise errors.NotFound(f"Task with the given id {task_id} not found")
        return task_dict(t)
