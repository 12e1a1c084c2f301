"""Swift's middleware behaviours as plain functions the handlers call: TempURL, FormPost,
bulk delete and extract-archive, SLO delete, CORS and static websites."""
from __future__ import annotations

import base64
import email.parser
import hashlib
import hmac
import ipaddress
import json
import tarfile
import tempfile
import time
import datetime as dt
from typing import Any
from urllib.parse import quote, unquote, urlencode
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from onestack import errors
from onestack.object import service
from onestack.object.api import common
from onestack.object.api.common import HTML, JSON, TEXT, XML, reply

DIGESTS = {40: hashlib.sha1, 64: hashlib.sha256, 128: hashlib.sha512}
NAMED = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


# ---------------------------------------------------------------- TempURL

def _temp_url_keys(account: str, container: str | None) -> list[str]:
    keys = []
    ainfo = service.backend().account_db(account).info()
    if ainfo:
        keys += [ainfo["meta"].get(k) for k in ("x-account-meta-temp-url-key",
                                                "x-account-meta-temp-url-key-2")]
    if container and service.container_exists(account, container):
        meta = service.container_info(account, container)["meta"]
        keys += [meta.get(k) for k in ("x-container-meta-temp-url-key",
                                       "x-container-meta-temp-url-key-2")]
    return [k for k in keys if k]


def _parse_sig(sig: str) -> tuple[Any, bytes] | None:
    if ":" in sig:
        alg, _, b64 = sig.partition(":")
        fn = NAMED.get(alg.lower())
        if fn is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except ValueError:
            return None
        return fn, raw
    fn = DIGESTS.get(len(sig))
    if fn is None:
        return None
    try:
        return fn, bytes.fromhex(sig)
    except ValueError:
        return None


def _parse_expires(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return int(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp())
    except ValueError:
        return None


def tempurl_check(req: Any, account: str, container: str, obj: str) -> None:
    """Validate temp_url_sig/temp_url_expires; on success the request needs no token."""
    req.tempurl = None
    q = req.query
    sig, exp = q.get("temp_url_sig"), q.get("temp_url_expires")
    if sig is None and exp is None:
        return
    invalid = errors.Unauthorized("Temp URL invalid")
    if sig is None or exp is None:
        raise invalid
    expires = _parse_expires(exp)
    if expires is None or expires < time.time():
        raise errors.Unauthorized("Temp URL expired") if expires is not None else invalid
    parsed = _parse_sig(sig)
    if parsed is None:
        raise invalid
    fn, given = parsed
    methods = [req.method] + (["GET", "PUT", "POST"] if req.method == "HEAD" else [])
    prefix = q.get("temp_url_prefix")
    base = f"/{account}/{container}/"
    if prefix is not None:
        if not obj.startswith(prefix):
            raise invalid
        paths = [f"prefix:/v1{base}{prefix}", f"prefix:{req.service_url[len(req.base_url):]}/v1{base}{prefix}"]
    else:
        paths = [f"/v1{base}{obj}", req.raw.url.path]
    ip_range = q.get("temp_url_ip_range")
    if ip_range:
        client = req.raw.client.host if req.raw.client else ""
        try:
            if ipaddress.ip_address(client) not in ipaddress.ip_network(ip_range, strict=False):
                raise invalid
        except ValueError:
            raise invalid from None
    keys = _temp_url_keys(account, container)
    for key in keys:
        for m in methods:
            for p in paths:
                body = f"{m}\n{exp if not exp.isdigit() else expires}\n{p}"
                if ip_range:
                    body = f"ip={ip_range}\n{body}"
                want = hmac.new(key.encode(), body.encode(), fn).digest()
                if hmac.compare_digest(want, given):
                    req.tempurl = {"account": account, "container": container, "object": obj}
                    return
    raise invalid


def tempurl_headers(req: Any, name: str, headers: dict[str, str]) -> None:
    if getattr(req, "tempurl", None) is None or req.method not in ("GET", "HEAD"):
        return
    for k in list(headers):
        kl = k.lower()
        if kl.startswith("x-object-meta-") and not kl.startswith("x-object-meta-public-"):
            headers.pop(k)
    q = req.query
    if "inline" in q:
        disp = "inline"
        if q.get("filename"):
            disp += f"; filename=\"{q['filename']}\""
    else:
        fname = q.get("filename") or name.rsplit("/", 1)[-1]
        disp = f"attachment; filename=\"{fname}\"; filename*=UTF-8''{quote(fname)}"
    headers["Content-Disposition"] = disp


# ---------------------------------------------------------------- bulk responses

def _bulk_reply(req: Any, result: dict[str, Any]) -> Response:
    fmt = "plain"
    accept = (req.headers.get("accept") or "").lower()
    if "application/json" in accept:
        fmt = "json"
    elif "xml" in accept:
        fmt = "xml"
    if fmt == "json":
        return reply(req, 200, json.dumps(result).encode(), {}, JSON)
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<delete>']
        for k, v in result.items():
            tag = k.lower().replace(" ", "_")
            if k == "Errors":
                parts.append("<errors>" + "".join(
                    f"<object><name>{escape(n)}</name><status>{escape(s)}</status></object>"
                    for n, s in v) + "</errors>")
            else:
                parts.append(f"<{tag}>{escape(str(v))}</{tag}>")
        parts.append("</delete>")
        return reply(req, 200, "".join(parts).encode(), {}, XML)
    lines = [f"{k}: {v}" for k, v in result.items() if k != "Errors"]
    lines.append("Errors:")
    lines += [f"{n}, {s}" for n, s in result.get("Errors", [])]
    return reply(req, 200, ("\n".join(lines) + "\n").encode(), {}, TEXT)


def _status_text(err: errors.OpenStackError) -> str:
    return f"{err.code} {err.title}"


def _delete_path(req: Any, account: str, path: str) -> errors.OpenStackError | None:
    """Delete /container[/object]; None when deleted, else the error it met."""
    cont, _, obj = path.lstrip("/").partition("/")
    try:
        common.check_container(cont)
        if obj:
            common.check_object(obj)
            common.authorize(req, account, cont, write=True)
            service.delete_object(account, cont, obj)
        else:
            common.authorize(req, account, cont, write=True, account_level=True)
            service.delete_container(account, cont)
        return None
    except errors.OpenStackError as e:
        return e


async def bulk_delete(req: Any, account: str) -> Response:
    lim = service.limits()
    body = b""
    async for c in req.raw.stream():
        body += c
        if len(body) > lim.max_deletes_per_request * 2048:
            raise errors.RequestEntityTooLarge("Too many deletes")
    paths = [unquote(line.strip()) for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(paths) > lim.max_deletes_per_request:
        raise errors.RequestEntityTooLarge(f"Maximum Bulk Deletes: {lim.max_deletes_per_request} per request")
    if not req.ctx.authenticated:
        raise common.deny(req)
    deleted, not_found, errs = 0, 0, []
    for p in paths:
        err = await run_in_threadpool(_delete_path, req, account, p)
        if err is None:
            deleted += 1
        elif isinstance(err, errors.NotFound):
            not_found += 1
        else:
            errs.append([quote(p), _status_text(err)])
    status = "200 OK" if not errs else ("400 Bad Request" if any(
        e[1].startswith("4") and not e[1].startswith(("401", "403")) for e in errs) else errs[0][1])
    if errs and all(e[1].startswith(("401", "403")) for e in errs):
        status = errs[0][1]
    return _bulk_reply(req, {"Number Deleted": deleted, "Number Not Found": not_found,
                             "Response Body": "", "Response Status": status, "Errors": errs})


def slo_delete(req: Any, account: str, container: str, name: str) -> Response:
    info = service.open_object(account, container, name)
    paths: list[str] = []
    if info.is_slo:
        from onestack.object.api import large

        def collect(i: service.ObjectInfo, depth: int) -> None:
            items = json.loads(service.read_small(i))
            for it in items:
                if it.get("sub_slo") and depth < large.MAX_DEPTH:
                    c, _, o = it["name"].lstrip("/").partition("/")
                    try:
                        collect(service.open_object(account, c, o), depth + 1)
                    except errors.NotFound:
                        pass
                paths.append(it["name"])
        collect(info, 0)
    else:
        info.close()
    paths.append(f"/{container}/{name}")
    deleted, not_found, errs = 0, 0, []
    for p in paths:
        err = _delete_path(req, account, p)
        if err is None:
            deleted += 1
        elif isinstance(err, errors.NotFound):
            not_found += 1
        else:
            errs.append([quote(p), _status_text(err)])
    return _bulk_reply(req, {"Number Deleted": deleted, "Number Not Found": not_found,
                             "Response Body": "", "Response Status": "200 OK" if not errs else "400 Bad Request",
                             "Errors": errs})


async def extract_archive(req: Any, account: str, container: str | None, prefix: str) -> Response:
    fmt = req.query.get("extract-archive", "").lower()
    modes = {"tar": "r|", "tar.gz": "r|gz", "tgz": "r|gz", "tar.bz2": "r|bz2", "": "r|*"}
    if fmt not in modes:
        raise errors.BadRequest("Unsupported archive format")
    if not req.ctx.authenticated:
        raise common.deny(req)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    size = 0
    async for c in req.raw.stream():
        size += len(c)
        if size > service.limits().max_file_size:
            raise errors.RequestEntityTooLarge()
        spool.write(c)
    spool.seek(0)
    created, errs = 0, []
    containers_made: set[str] = set()
    try:
        tar = tarfile.open(fileobj=spool, mode=modes[fmt])
        for member in tar:
            if not member.isfile():
                continue
            path = member.name.lstrip("./").lstrip("/")
            full = "/".join(p for p in (container or "", prefix, path) if p)
            cont, _, obj = full.partition("/")
            if not cont or not obj:
                errs.append([quote(full), _status_text(errors.BadRequest())])
                continue
            try:
                common.check_container(cont)
                common.check_object(obj)
                if not await run_in_threadpool(service.container_exists, account, cont):
                    if len(containers_made) >= service.limits().max_containers_per_extraction:
                        raise errors.BadRequest("More than max containers")
                    common.authorize(req, account, cont, write=True, account_level=True)
                    await run_in_threadpool(service.create_container, account, cont, {}, None)
                    containers_made.add(cont)
                common.authorize(req, account, cont, write=True)
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                import mimetypes
                ctype = mimetypes.guess_type(obj)[0] or "application/octet-stream"
                await service.put_bytes(account, cont, obj, data, {"content-type": ctype})
                created += 1
            except errors.OpenStackError as e:
                errs.append([quote("/" + full), _status_text(e)])
                if len(errs) >= service.limits().max_failed_extractions:
                    break
    except tarfile.TarError:
        return _bulk_reply(req, {"Number Files Created": created, "Response Body": "Invalid Tar File",
                                 "Response Status": "400 Bad Request", "Errors": errs})
    finally:
        spool.close()
    status = "201 Created" if not errs else "400 Bad Request"
    return _bulk_reply(req, {"Number Files Created": created, "Response Body": "",
                             "Response Status": status, "Errors": errs})


# ---------------------------------------------------------------- FormPost

async def formpost(req: Any, account: str, container: str, prefix: str) -> Response:
    body = b""
    async for c in req.raw.stream():
        body += c
        if len(body) > service.limits().max_file_size:
            raise errors.RequestEntityTooLarge()
    msg = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + req.headers.get("content-type", "").encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise errors.BadRequest("FormPost: invalid multipart body")
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes, str]] = []
    for part in msg.get_payload():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            files.append((filename, data, part.get_content_type()))
        elif name:
            fields[name] = data.decode("utf-8", "replace").strip()
    # signed over Swift's /v1/... path, or over the full path under the /object mount
    paths = [f"/v1/{account}/{container}" + (f"/{prefix}" if prefix else ""), req.raw.url.path]
    redirect = fields.get("redirect", "")
    try:
        max_size = int(fields.get("max_file_size", "0"))
        max_count = int(fields.get("max_file_count", "0"))
        expires = int(fields.get("expires", "0"))
    except ValueError:
        raise errors.BadRequest("FormPost: invalid max_file_size/max_file_count/expires") from None
    if expires < time.time():
        raise errors.Unauthorized("FormPost: Form Expired")
    sig = fields.get("signature", "")
    parsed = _parse_sig(sig)
    ok = False
    if parsed is not None:
        fn, given = parsed
        for key in await run_in_threadpool(_temp_url_keys, account, container):
            for path in paths:
                body_txt = f"{path}\n{redirect}\n{fields.get('max_file_size', '')}\n" \
                           f"{fields.get('max_file_count', '')}\n{fields.get('expires', '')}"
                if hmac.compare_digest(hmac.new(key.encode(), body_txt.encode(), fn).digest(), given):
                    ok = True
    if not ok:
        raise errors.Unauthorized("FormPost: Invalid Signature")
    if len(files) > max_count:
        status, message = 400, "max_file_count exceeded"
    else:
        status, message = 201, ""
        delete_at = None
        if fields.get("x_delete_at"):
            delete_at = int(fields["x_delete_at"])
        elif fields.get("x_delete_after"):
            delete_at = int(time.time()) + int(fields["x_delete_after"])
        for filename, data, ctype in files:
            if len(data) > max_size:
                status, message = 400, "max_file_size exceeded"
                break
            obj = (prefix or "") + filename
            try:
                common.check_object(obj)
                await service.put_bytes(account, container, obj, data,
                                        {"content-type": ctype or "application/octet-stream"},
                                        delete_at=delete_at)
            except errors.OpenStackError as e:
                status, message = e.code, e.message
                break
    if redirect:
        sep = "&" if "?" in redirect else "?"
        loc = f"{redirect}{sep}{urlencode({'status': status, 'message': message})}"
        return reply(req, 303, f'<html><body><p><a href="{escape(loc)}">Click to continue...</a></p>'
                     f"</body></html>".encode(), {"Location": loc}, HTML)
    return reply(req, status, f"{status} {'Created' if status == 201 else 'Error'}\n\n{message}".encode(),
                 {}, HTML)


# ---------------------------------------------------------------- CORS

EXPOSE = ("cache-control, content-language, content-type, expires, last-modified, pragma, etag, "
          "x-timestamp, x-trans-id, x-openstack-request-id")


def _allowed_origin(req: Any, meta: dict[str, str]) -> str | None:
    origin = req.headers.get("origin")
    if not origin:
        return None
    allowed = meta.get("x-container-meta-access-control-allow-origin", "").split()
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def with_cors(req: Any, cinfo: dict[str, Any] | None, resp: Response) -> Response:
    if not req.headers.get("origin"):
        return resp
    if cinfo is None:
        try:
            cinfo = service.container_info(req.params["account"], req.params["container"])
        except (errors.NotFound, KeyError):
            return resp
    origin = _allowed_origin(req, cinfo["meta"])
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
        extra = cinfo["meta"].get("x-container-meta-access-control-expose-headers", "")
        resp.headers["Access-Control-Expose-Headers"] = EXPOSE + (f", {extra}" if extra else "")
    return resp


def preflight(req: Any) -> Response:
    account = req.params.get("account")
    container = req.params.get("container")
    origin = req.headers.get("origin")
    method = req.headers.get("access-control-request-method")
    allow = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
    if not origin or not method or not container:
        return reply(req, 200, b"", {"Allow": allow}, TEXT)
    try:
        meta = service.container_info(account, container)["meta"]
    except errors.NotFound:
        meta = {}
    allowed = _allowed_origin(req, meta)
    if not allowed or method not in allow.split(", "):
        raise errors.Unauthorized("CORS preflight refused.")
    h = {"Access-Control-Allow-Origin": origin if allowed != "*" else "*",
         "Access-Control-Allow-Methods": allow,
         "Access-Control-Max-Age": meta.get("x-container-meta-access-control-max-age", "86400"),
         "Allow": allow}
    rh = req.headers.get("access-control-request-headers")
    if rh:
        h["Access-Control-Allow-Headers"] = rh
    return reply(req, 200, b"", h, TEXT)


# ---------------------------------------------------------------- static web

def static_web(req: Any, account: str, container: str, cinfo: dict[str, Any],
               subpath: str) -> Response | None:
    meta = cinfo["meta"]
    index = meta.get("x-container-meta-web-index")
    listings = meta.get("x-container-meta-web-listings", "").lower() in ("true", "1", "yes", "on")
    if req.headers.get("x-web-mode", "true").lower() in ("false", "0", "no"):
        return None
    if not index and not listings:
        return None
    if index:
        try:
            info = service.open_object(account, container, subpath + index)
        except errors.NotFound:
            info = None
        if info is not None:
            from onestack.object.api import swift
            return swift._serve(req, info, "acl", 0)
    if listings:
        rows = service.list_objects(account, container, prefix=subpath, delimiter="/", limit=10000)
        items = "".join(
            f'<tr><td><a href="{quote(r.get("subdir") or r["name"])}">'
            f'{escape(r.get("subdir") or r["name"])}</a></td></tr>' for r in rows)
        css = meta.get("x-container-meta-web-listings-css")
        link = f'<link rel="stylesheet" type="text/css" href="{escape(css)}" />' if css else ""
        html = (f"<!DOCTYPE html><html><head><title>Listing of /{escape(account)}/{escape(container)}/"
                f"{escape(subpath)}</title>{link}</head><body><table>{items}</table></body></html>")
        return reply(req, 200, html.encode(), {}, "text/html; charset=UTF-8")
    return None
