"""Swift v1 handlers: /info, accounts, containers, objects (+ SLO, DLO, symlinks, versions)."""
from __future__ import annotations

import json
import mimetypes
import time
from typing import Any, AsyncIterator, Iterator
from urllib.parse import quote, unquote

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse

from onestack import errors
from onestack.object import service
from onestack.object import errors as oerr
from onestack.object.api import common, large, middleware
from onestack.object.api.common import HTML, JSON, TEXT, reply, title

CONTAINER_SPECIAL = ("x-container-read", "x-container-write", "x-versions-location",
                     "x-history-location", "x-container-sync-to", "x-container-sync-key")
OBJECT_POSTABLE = ("content-type", "content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires", "x-delete-at", "x-object-manifest",
                   "access-control-allow-origin", "access-control-expose-headers",
                   "access-control-max-age", "access-control-allow-credentials")


# ---------------------------------------------------------------- root documents

def root(req: Any) -> Response:
    path = req.raw.url.path.rstrip("/")
    if path.endswith("/healthcheck"):
        return reply(req, 200, b"OK", content_type=TEXT)
    if path.endswith("/crossdomain.xml"):
        body = (b'<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM '
                b'"http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n'
                b'<cross-domain-policy>\n<allow-access-from domain="*" secure="false" />\n'
                b'</cross-domain-policy>')
        return reply(req, 200, body, content_type="application/xml")
    return reply(req, 200, json.dumps(info_document()).encode(), content_type=JSON)


def info_document() -> dict[str, Any]:
    lim = service.limits()
    return {
        "swift": {
            "version": "2.35.0", "max_file_size": lim.max_file_size,
            "max_meta_name_length": lim.max_meta_name_length,
            "max_meta_value_length": lim.max_meta_value_length,
            "max_meta_count": lim.max_meta_count, "max_meta_overall_size": lim.max_meta_overall_size,
            "max_header_size": lim.max_header_size,
            "max_object_name_length": lim.max_object_name_length,
            "max_container_name_length": lim.max_container_name_length,
            "max_account_name_length": lim.max_account_name_length,
            "container_listing_limit": lim.container_listing_limit,
            "account_listing_limit": lim.account_listing_limit,
            "extra_header_count": 0, "account_autocreate": True,
            "allow_account_management": False, "strict_cors_mode": True,
            "valid_api_versions": ["v1", "v1.0"],
            "policies": [{"name": service.DEFAULT_POLICY, "aliases": service.DEFAULT_POLICY,
                          "default": True}],
        },
        "keystoneauth": {},
        "slo": {"max_manifest_segments": lim.max_manifest_segments,
                "max_manifest_size": lim.max_manifest_size,
                "min_segment_size": lim.min_segment_size, "yield_frequency": 10,
                "allow_async_delete": False},
        "dlo": {"max_segments": 10000},
        "tempurl": {"methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
                    "incoming_remove_headers": ["x-timestamp"], "incoming_allow_headers": [],
                    "outgoing_remove_headers": ["x-object-meta-*"],
                    "outgoing_allow_headers": ["x-object-meta-public-*"],
                    "allowed_digests": ["sha1", "sha256", "sha512"]},
        "formpost": {},
        "bulk_delete": {"max_deletes_per_request": lim.max_deletes_per_request,
                        "max_failed_deletes": 1000},
        "bulk_upload": {"max_containers_per_extraction": lim.max_containers_per_extraction,
                        "max_failed_extractions": lim.max_failed_extractions},
        "account_quotas": {}, "container_quotas": {},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "symlink": {"symlink_loop_limit": 2},
        "object_versioning": {},
        "staticweb": {}, "crossdomain": {}, "healthcheck": {},
        "container_sync": {"realms": {}},
        "s3api": {"max_bucket_listing": 1000, "max_parts_listing": 1000,
                  "max_upload_part_num": 10000, "max_multi_delete_objects": 1000,
                  "allow_multipart_uploads": True, "min_segment_size": 5242880},
    }


# ---------------------------------------------------------------- accounts

def _account_headers(req: Any, account: str, info: dict[str, Any], owner: bool) -> dict[str, str]:
    h = {"X-Account-Container-Count": str(info["container_count"]),
         "X-Account-Object-Count": str(info["object_count"]),
         "X-Account-Bytes-Used": str(info["bytes_used"]),
         "X-Timestamp": service.normalize_ts(info["created_at"]),
         "X-Put-Timestamp": service.normalize_ts(info["put_timestamp"]),
         "Accept-Ranges": "bytes"}
    for pol, st in info["policies"].items():
        p = f"X-Account-Storage-Policy-{pol}-"
        h[p + "Container-Count"] = str(st["container_count"])
        h[p + "Object-Count"] = str(st["object_count"])
        h[p + "Bytes-Used"] = str(st["bytes_used"])
    meta = info["meta"]
    for k, v in meta.items():
        if k.startswith("x-account-meta-"):
            if not owner and k.startswith(("x-account-meta-temp-url-key",)):
                continue
            h[title(k)] = v
    for k, v in meta.items():
        if k.startswith("x-account-sysmeta-quota-"):
            h["X-Account-Quota-" + title(k[len("x-account-sysmeta-quota-"):])] = v
    acl = meta.get("x-account-sysmeta-core-access-control")
    if acl and owner:
        h["X-Account-Access-Control"] = acl
    return h


def account_get(req: Any) -> Response:
    if req.params["account"] in ("crossdomain.xml", "healthcheck", "info"):
        return root(req)   # clients that resolve these against the versioned URL
    account = common.check_account(req.params["account"])
    how = common.authorize(req, account, account_level=False)
    owner = how == "owner" or common.is_reseller(req)
    info = service.account_info(account)
    headers = _account_headers(req, account, info, owner or how == "account-acl")
    if req.method == "HEAD":
        return reply(req, 204, b"", headers, TEXT)
    params = common.listing_params(req, service.limits().account_listing_limit)
    rows = service.list_containers(account, **params)
    return common.render_account_listing(req, account, rows, headers)


async def account_post(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    if "bulk-delete" in req.query:
        return await middleware.bulk_delete(req, account)
    common.authorize(req, account, write=True, account_level=True)
    meta = common.user_meta(req.headers, "account")
    reseller = common.is_reseller(req)
    for k in list(meta):
        if k.startswith("x-account-meta-quota-") and not reseller:
            raise errors.Forbidden("Only a reseller admin may set account quotas.")
    # Swift >= 2.34 quota headers (X-Account-Quota-Bytes/-Count[-Policy-<name>]): reseller only
    for k, v in req.headers.items():
        k = k.lower()
        for prefix, value in (("x-account-quota-", v), ("x-remove-account-quota-", "")):
            if k.startswith(prefix):
                if not reseller:
                    raise errors.Forbidden("Only a reseller admin may set account quotas.")
                meta["x-account-sysmeta-quota-" + k[len(prefix):]] = value.strip()
    for k, v in meta.items():
        if "quota-" in k and v and not v.isdigit():
            raise errors.BadRequest("Invalid quota value.")
    acl = req.headers.get("x-account-access-control")
    if acl is not None:
        meta["x-account-sysmeta-core-access-control"] = _validate_account_acl(acl)
    if req.headers.get("x-remove-account-access-control") is not None:
        meta["x-account-sysmeta-core-access-control"] = ""
    info = await run_in_threadpool(service.account_info, account)
    common.check_meta_totals(info["meta"], meta, "account")
    await run_in_threadpool(service.set_account_meta, account, meta)
    return reply(req, 204, b"", {}, HTML)


def _validate_account_acl(value: str) -> str:
    if not value.strip():
        return ""
    try:
        data = json.loads(value)
    except ValueError:
        raise errors.BadRequest("Syntax error in input (Invalid JSON in X-Account-Access-Control)") from None
    if not isinstance(data, dict) or set(data) - {"admin", "read-write", "read-only"} or \
            not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()):
        raise errors.BadRequest("Invalid X-Account-Access-Control: keys admin, read-write, read-only "
                                "with lists of strings")
    return json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))


async def account_put(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    if "extract-archive" in req.query:
        return await middleware.extract_archive(req, account, None, "")
    raise errors.MethodNotAllowed()


async def account_delete(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    if "bulk-delete" in req.query:
        return await middleware.bulk_delete(req, account)
    raise errors.MethodNotAllowed()


# ---------------------------------------------------------------- containers

def _container_headers(info: dict[str, Any], owner: bool) -> dict[str, str]:
    h = {"X-Container-Object-Count": str(info["object_count"]),
         "X-Container-Bytes-Used": str(info["bytes_used"]),
         "X-Timestamp": service.normalize_ts(info["created_at"]),
         "X-Put-Timestamp": service.normalize_ts(info["put_timestamp"]),
         "X-Storage-Policy": info["storage_policy"], "Accept-Ranges": "bytes",
         "Last-Modified": service.http_date(info["put_timestamp"])}
    for k, v in info["meta"].items():
        if k.startswith("x-container-meta-"):
            if not owner and k.startswith("x-container-meta-temp-url-key"):
                continue
            h[title(k)] = v
        elif k in ("x-versions-location", "x-history-location"):
            h[title(k)] = v
        elif k == service.VERSIONS_SYSMETA:
            h["X-Versions-Enabled"] = v
        elif k in ("x-container-read", "x-container-write", "x-container-sync-to",
                   "x-container-sync-key") and owner:
            h[title(k)] = v
    return h


def container_get(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    container = common.check_container(req.params["container"])
    info = service.container_info(account, container) if service.container_exists(
        account, container) else None
    how = common.authorize(req, account, container, listing=True,
                           container_meta=info["meta"] if info else {})
    if info is None:
        raise errors.NotFound()
    if how == "acl" and not req.ctx.authenticated:
        web = middleware.static_web(req, account, container, info, "")
        if web is not None:
            return web
    owner = how in ("owner", "account-acl")
    headers = _container_headers(info, owner)
    if req.method == "HEAD":
        return reply(req, 204, b"", headers, TEXT)
    params = common.listing_params(req, service.limits().container_listing_limit)
    if "versions" in req.query:
        vm = req.query.get("version_marker", "")
        if vm and not params["marker"]:
            raise errors.BadRequest("version_marker param requires marker")
        rows = service.list_versions(
            account, container, prefix=params["prefix"], marker=params["marker"],
            version_marker=service.parse_version_id(vm) if vm and vm != "null" else "",
            end_marker=params["end_marker"], limit=params["limit"])
        return middleware.with_cors(req, info, common.render_container_listing(
            req, container, rows, headers))
    rows = service.list_objects(account, container, **params)
    return middleware.with_cors(req, info, common.render_container_listing(req, container, rows, headers))


async def container_put(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    container = common.check_container(req.params["container"])
    if "extract-archive" in req.query:
        return await middleware.extract_archive(req, account, container, "")
    common.authorize(req, account, container, write=True, account_level=True)
    meta = _container_meta(req)
    policy = req.headers.get("x-storage-policy")
    if policy is not None and policy.lower() != service.DEFAULT_POLICY.lower():
        raise errors.BadRequest(f"Invalid X-Storage-Policy {policy!r}")
    if policy is not None:
        policy = service.DEFAULT_POLICY
    try:
        existing = await run_in_threadpool(service.container_info, account, container)
        common.check_meta_totals(existing["meta"], meta, "container")
        _check_versioning_modes(existing["meta"], meta)
    except errors.NotFound:
        _check_versioning_modes({}, meta)
    created = await run_in_threadpool(service.create_container, account, container, meta, policy)
    if "x-container-sync-to" in meta or "x-container-sync-key" in meta:
        await run_in_threadpool(service.register_sync, account, container, meta)
    return reply(req, 201 if created else 202, b"", {}, HTML)


def _container_meta(req: Any) -> dict[str, str]:
    meta = common.user_meta(req.headers, "container")
    for k in CONTAINER_SPECIAL:
        v = req.headers.get(k)
        if v is not None:
            if k in ("x-container-read", "x-container-write"):
                v = common.validate_acl(v, title(k))
            if k in ("x-versions-location", "x-history-location") and v:
                v = common.check_container(unquote(v).strip("/"))
            if k == "x-container-sync-to" and v and service.sync_target(v) is None:
                raise errors.BadRequest("Invalid X-Container-Sync-To format: use "
                                        "//realm/cluster/account/container or .../v1/account/container")
            meta[k] = v
        if req.headers.get("x-remove-" + k[2:]) is not None:
            meta[k] = ""
    if meta.get("x-versions-location") and meta.get("x-history-location"):
        raise errors.BadRequest("Only one of X-Versions-Location or X-History-Location may be set")
    if meta.get("x-versions-location"):
        meta["x-history-location"] = ""
    elif meta.get("x-history-location"):
        meta["x-versions-location"] = ""
    for q in ("x-container-meta-quota-bytes", "x-container-meta-quota-count"):
        if meta.get(q) and not meta[q].isdigit():
            raise errors.BadRequest("Invalid quota value.")
    enabled = req.headers.get("x-versions-enabled")
    if enabled is not None:
        meta[service.VERSIONS_SYSMETA] = "True" if enabled.strip().lower() in TRUE else "False"
    return meta


TRUE = ("true", "1", "yes", "on", "t", "y")


def _check_versioning_modes(existing: dict[str, str], meta: dict[str, str]) -> None:
    """The new mode (X-Versions-Enabled) and the legacy ones exclude each other (400)."""
    after = {**existing, **meta}
    legacy = after.get("x-versions-location") or after.get("x-history-location")
    if meta.get(service.VERSIONS_SYSMETA) == "True" and legacy:
        raise errors.BadRequest("Cannot enable object versioning on a container that is already "
                                "using the legacy versioned writes feature.")
    if (meta.get("x-versions-location") or meta.get("x-history-location")) \
            and after.get(service.VERSIONS_SYSMETA):
        raise errors.BadRequest("Cannot use the legacy versioned writes feature on a container "
                                "with X-Versions-Enabled.")


async def container_post(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    container = common.check_container(req.params["container"])
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await middleware.formpost(req, account, container, "")
    common.authorize(req, account, container, write=True, account_level=True)
    meta = _container_meta(req)
    info = await run_in_threadpool(service.container_info, account, container)
    common.check_meta_totals(info["meta"], meta, "container")
    _check_versioning_modes(info["meta"], meta)
    await run_in_threadpool(service.set_container_meta, account, container, meta)
    if "x-container-sync-to" in meta or "x-container-sync-key" in meta:
        await run_in_threadpool(service.register_sync, account, container, meta)
    return reply(req, 204, b"", {}, HTML)


def container_delete(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    container = common.check_container(req.params["container"])
    common.authorize(req, account, container, write=True, account_level=True)
    service.delete_container(account, container)
    return reply(req, 204, b"", {}, HTML)


# ---------------------------------------------------------------- objects

def _parse_delete_at(req: Any) -> int | None:
    at = req.headers.get("x-delete-at")
    after = req.headers.get("x-delete-after")
    now = time.time()
    if after is not None:
        try:
            n = int(after)
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-After") from None
        if n < 0:
            raise errors.BadRequest("X-Delete-After in past")
        return int(now + n)
    if at is not None:
        try:
            n = int(float(at))
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-At") from None
        if n < now:
            raise errors.BadRequest("X-Delete-At in past")
        return n
    return None


def _object_user_headers(req: Any, name: str, *, detect_default: bool = True) -> dict[str, str]:
    common.user_meta(req.headers, "object")   # validation (names, sizes, counts)
    h = {k.lower(): v.strip() for k, v in req.headers.items()
         if k.lower().startswith("x-object-meta-") and len(k) > len("x-object-meta-")}
    for k in OBJECT_POSTABLE:
        v = req.headers.get(k)
        if v is not None and k != "x-delete-at":
            h[k] = v
    ctype = req.headers.get("content-type")
    detect = req.headers.get("x-detect-content-type", "").lower() in ("true", "1", "yes", "on")
    if detect or (not ctype and detect_default):
        guessed = mimetypes.guess_type(name)[0]
        h["content-type"] = guessed or "application/octet-stream"
    elif ctype:
        h["content-type"] = ctype
    if "x-object-manifest" in h:
        v = unquote(h["x-object-manifest"]).lstrip("/")
        if "/" not in v or not v.split("/", 1)[0] or "?" in v or "&" in v:
            raise errors.BadRequest("X-Object-Manifest must be in the format container/prefix")
    return h


def _object_headers(info: service.ObjectInfo, owner: bool = True) -> dict[str, str]:
    h = {"Content-Type": info.content_type, "X-Timestamp": service.normalize_ts(info.ts),
         "Last-Modified": service.http_date(info.ts), "Accept-Ranges": "bytes"}
    for k, v in info.headers.items():
        if k.startswith("x-object-meta-") or k in OBJECT_POSTABLE[1:]:
            if k == "x-delete-at":
                continue
            h[title(k)] = v
    if info.row.get("delete_at"):
        h["X-Delete-At"] = str(info.row["delete_at"])
    if info.row.get("vid"):
        h["X-Object-Version-Id"] = info.row["vid"]
    if info.is_slo:
        h["X-Static-Large-Object"] = "True"
    return h


def _parse_etags(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def _conditional(req: Any, etag: str, ts: str) -> None:
    im = req.headers.get("if-match")
    if im is not None:
        tags = _parse_etags(im)
        if "*" not in tags and etag not in tags:
            raise errors.PreconditionFailed(headers={"ETag": etag})
    inm = req.headers.get("if-none-match")
    if inm is not None:
        tags = _parse_etags(inm)
        if "*" in tags or etag in tags:
            if req.method in ("GET", "HEAD"):
                raise oerr.NotModified(headers={"ETag": etag,
                                                "Last-Modified": service.http_date(ts)})
            raise errors.PreconditionFailed(headers={"ETag": etag})
    lm = int(float(ts)) + (1 if float(ts) % 1 else 0)
    ims = req.headers.get("if-modified-since")
    if ims is not None and inm is None and req.method in ("GET", "HEAD"):
        t = service.parse_http_date(ims)
        if t is not None and lm <= t:
            raise oerr.NotModified(headers={"ETag": etag, "Last-Modified": service.http_date(ts)})
    ius = req.headers.get("if-unmodified-since")
    if ius is not None and im is None:
        t = service.parse_http_date(ius)
        if t is not None and lm > t:
            raise errors.PreconditionFailed(headers={"ETag": etag})


def _names(req: Any) -> tuple[str, str, str]:
    return (common.check_account(req.params["account"]), common.check_container(req.params["container"]),
            common.check_object(req.params["path"]))


def object_get(req: Any) -> Response:
    account, container, name = _names(req)
    middleware.tempurl_check(req, account, container, name)
    how = common.authorize(req, account, container)
    q = req.query
    try:
        if "version-id" in q:
            info = service.open_version(account, container, name, q["version-id"])
        else:
            info = service.open_object(account, container, name)
    except errors.NotFound:
        raise errors.NotFound(headers={"X-Trans-Id": common.trans_id(req)}) from None
    try:
        return _serve(req, info, how, depth=0)
    except oerr.NotModified as e:
        # a 304 carries no body (the error renderer would give it one)
        return Response(b"", status_code=304, headers={**e.headers, "X-Trans-Id": common.trans_id(req)})


def _serve(req: Any, info: service.ObjectInfo, how: str, depth: int) -> Response:
    q = req.query
    try:
        # symlinks
        if info.symlink_target and q.get("symlink") != "get":
            if depth >= 2:
                raise errors.Conflict("Too many levels of symbolic links, maximum allowed is 2")
            tc, to = common.split_ref(info.symlink_target, "X-Symlink-Target")
            t_account = info.headers.get("x-symlink-target-account", info.account)
            loc = f"/v1/{t_account}/{tc}/{to}"
            info.close()
            if how != "tempurl":
                common.authorize(req, t_account, tc)
            try:
                target = service.open_object(t_account, tc, to)
            except errors.NotFound:
                raise errors.NotFound(headers={"Content-Location": loc}) from None
            resp = _serve(req, target, how, depth + 1)
            resp.headers["Content-Location"] = loc
            return resp
        headers = _object_headers(info)
        if info.symlink_target:
            headers["X-Symlink-Target"] = info.symlink_target
            if "x-symlink-target-account" in info.headers:
                headers["X-Symlink-Target-Account"] = info.headers["x-symlink-target-account"]
        mm = q.get("multipart-manifest")
        if info.is_slo and mm == "get":
            body = large.manifest_for_get(info, raw=q.get("format") == "raw")
            headers["Content-Type"] = JSON
            headers["ETag"] = info.data_etag
            headers["X-Static-Large-Object"] = "True"
            _conditional(req, info.data_etag, info.ts)
            return reply(req, 200, body, headers, JSON)
        if info.is_slo:
            segs = large.slo_segments(info, req)
            etag = info.headers.get("x-object-sysmeta-slo-etag", "")
            total = sum(s.length for s in segs)
            headers["ETag"] = f'"{etag}"'
            _conditional(req, etag, info.ts)
            return _ranged(req, headers, total, lambda a, b: large.iter_segments(segs, a, b, req))
        if info.dlo_manifest and mm != "get":
            info.close()
            segs, etag = large.dlo_segments(info, req)
            total = sum(s.length for s in segs)
            headers["ETag"] = f'"{etag}"'
            headers["X-Object-Manifest"] = info.dlo_manifest
            _conditional(req, etag, info.ts)
            return _ranged(req, headers, total, lambda a, b: large.iter_segments(segs, a, b, req))
        etag = info.data_etag
        headers["ETag"] = etag
        _conditional(req, etag, info.ts)
        middleware.tempurl_headers(req, info.name, headers)
        return _plain(req, info, headers)
    except BaseException:
        info.close()
        raise


def _plain(req: Any, info: service.ObjectInfo, headers: dict[str, str]) -> Response:
    length = info.length
    if req.method == "HEAD":
        info.close()
        headers["Content-Length"] = str(length)
        return reply(req, 200, b"", headers, headers["Content-Type"])
    ranges = large.parse_range(req.headers.get("range"), length) if req.headers.get("range") else None
    if ranges is None and length <= service.limits().verify_in_memory_limit:
        data = service.read_small(info)
        return middleware.with_cors(req, None, reply(req, 200, data, headers, headers["Content-Type"]))
    return _ranged(req, headers, length, lambda a, b: service.iter_object(info, a, b, close=False),
                   ranges=ranges, close=info.close)


def _ranged(req: Any, headers: dict[str, str], total: int, source: Any,
            ranges: Any = False, close: Any = None) -> Response:
    if ranges is False:
        ranges = large.parse_range(req.headers.get("range"), total) if req.headers.get("range") else None
    h = {title(k): v for k, v in headers.items()}
    h["X-Trans-Id"] = common.trans_id(req)
    if req.method == "HEAD":
        if close:
            close()
        h["Content-Length"] = str(total)
        return Response(b"", status_code=200, headers=h)
    if not ranges:
        h["Content-Length"] = str(total)
        return StreamingResponse(_closing(source(0, total), close), status_code=200, headers=h)
    if len(ranges) == 1:
        a, b = ranges[0]
        h["Content-Range"] = f"bytes {a}-{b - 1}/{total}"
        h["Content-Length"] = str(b - a)
        return StreamingResponse(_closing(source(a, b), close), status_code=206, headers=h)
    ctype = h.get("Content-Type", "application/octet-stream")
    body, mp_type, length = large.multipart_body(ranges, total, ctype, source)
    h["Content-Type"] = mp_type
    h["Content-Length"] = str(length)
    return StreamingResponse(_closing(body, close), status_code=206, headers=h)


def _closing(it: Iterator[bytes], close: Any) -> Iterator[bytes]:
    try:
        yield from it
    finally:
        if close:
            close()


async def _body(req: Any) -> AsyncIterator[bytes]:
    async for chunk in req.raw.stream():
        yield chunk


def _content_length(req: Any) -> int | None:
    cl = req.headers.get("content-length")
    te = req.headers.get("transfer-encoding", "").lower()
    if cl is None:
        if "chunked" not in te:
            raise oerr.LengthRequired()
        return None
    try:
        n = int(cl)
    except ValueError:
        raise errors.BadRequest("Invalid Content-Length") from None
    if n < 0:
        raise errors.BadRequest("Invalid Content-Length")
    if n > service.limits().max_file_size:
        raise errors.RequestEntityTooLarge("Your request is too large.")
    return n


async def object_put(req: Any) -> Response:
    account, container, name = _names(req)
    if "extract-archive" in req.query:
        return await middleware.extract_archive(req, account, container, name)
    middleware.tempurl_check(req, account, container, name)
    common.authorize(req, account, container, write=True)
    if "version-id" in req.query:
        raise errors.BadRequest("PUT requests cannot have a version-id parameter")
    cl = req.headers.get("content-length", "")
    if not (cl.isdigit() and int(cl) <= service.WRITE_BUFFER):
        # a large body is not read into a missing container; a small one is checked with
        # the rest of the write (one worker hop)
        if not await run_in_threadpool(service.container_exists, account, container):
            raise errors.NotFound()
    copy_from = req.headers.get("x-copy-from")
    if copy_from is not None:
        if req.headers.get("content-length") not in (None, "0"):
            raise errors.BadRequest("Copy requests require a zero byte body")
        src_account = req.headers.get("x-copy-from-account", account)
        sc, so = common.split_ref(copy_from)
        return await _copy(req, common.check_account(src_account), sc, so, account, container, name)
    length = _content_length(req)
    delete_at = _parse_delete_at(req)
    if req.headers.get("if-none-match", "").strip() == "*":
        if await run_in_threadpool(service.object_exists, account, container, name):
            raise errors.PreconditionFailed()
    elif req.headers.get("if-none-match") is not None:
        raise errors.BadRequest("Only If-None-Match: * is supported on PUT")
    headers = _object_user_headers(req, name)
    target = req.headers.get("x-symlink-target")
    if target is not None:
        if length not in (0, None):
            raise errors.BadRequest("Symlink requests require a zero byte body")
        tc, to = common.split_ref(target, "X-Symlink-Target")
        headers["x-symlink-target"] = f"{tc}/{to}"
        ta = req.headers.get("x-symlink-target-account")
        if ta:
            headers["x-symlink-target-account"] = common.check_account(ta)
        if "content-type" not in headers or not req.headers.get("content-type"):
            headers["content-type"] = "application/symlink"
    if req.query.get("multipart-manifest") == "put":
        body = await _read_limited(req, service.limits().max_manifest_size)
        manifest, etag, total = await run_in_threadpool(large.build_manifest, req, account, body)
        want = req.headers.get("etag")
        if want and want.strip('"') != etag:
            raise oerr.ChecksumMismatch()
        headers.update({"x-static-large-object": "True", "x-object-sysmeta-slo-etag": etag,
                        "x-object-sysmeta-slo-size": str(total)})
        headers.pop("x-object-manifest", None)
        info = await service.put_bytes(account, container, name, manifest, headers,
                                       delete_at=delete_at, check_quota=False)
        return reply(req, 201, b"", {"ETag": f'"{etag}"', "Last-Modified": service.http_date(info.ts)},
                     HTML)
    info = await service.put_object(account, container, name, _body(req), headers, length=length,
                                    expected_etag=req.headers.get("etag"), delete_at=delete_at)
    out = {"ETag": info.row["etag"], "Last-Modified": service.http_date(info.ts)}
    if info.row.get("vid"):
        out["X-Object-Version-Id"] = info.row["vid"]
    return reply(req, 201, b"", out, HTML)


async def _read_limited(req: Any, limit: int) -> bytes:
    chunks, size = [], 0
    async for c in req.raw.stream():
        size += len(c)
        if size > limit:
            raise errors.RequestEntityTooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(c)
    return b"".join(chunks)


async def object_copy(req: Any) -> Response:
    account, container, name = _names(req)
    dest = req.headers.get("destination")
    if not dest:
        raise errors.PreconditionFailed("Destination header required")
    dc, do = common.split_ref(dest, "Destination")
    d_account = common.check_account(req.headers.get("destination-account", account))
    common.authorize(req, d_account, dc, write=True)
    return await _copy(req, account, container, name, d_account, dc, do,
                       version=req.query.get("version-id"))


async def _copy(req: Any, s_account: str, sc: str, so: str, account: str, container: str,
                name: str, version: str | None = None) -> Response:
    common.authorize(req, s_account, sc)
    if version is not None:
        src = await run_in_threadpool(service.open_version, s_account, sc, so, version)
    else:
        src = await run_in_threadpool(service.open_object, s_account, sc, so)
    try:
        q = req.query
        if src.symlink_target and q.get("symlink") != "get":
            tc, to = common.split_ref(src.symlink_target)
            src.close()
            common.authorize(req, s_account, tc)
            src = await run_in_threadpool(service.open_object, s_account, tc, to)
        fresh = req.headers.get("x-fresh-metadata", "").lower() in ("true", "1", "yes", "on")
        new = _object_user_headers(req, name, detect_default=False)
        if fresh:
            headers = {k: v for k, v in src.headers.items() if k in ("content-type",)}
            headers.update(new)
        else:
            headers = dict(src.headers)
            headers.update(new)
        headers.pop("x-object-sysmeta-length", None)
        delete_at = _parse_delete_at(req)
        if "x-delete-at" in headers and delete_at is None:
            headers.pop("x-delete-at", None)
        manifest_copy = q.get("multipart-manifest") == "get"
        if (src.is_slo or src.dlo_manifest) and not manifest_copy:
            for k in ("x-static-large-object", "x-object-sysmeta-slo-etag",
                      "x-object-sysmeta-slo-size", "x-object-manifest"):
                headers.pop(k, None)
            if src.is_slo:
                segs = await run_in_threadpool(large.slo_segments, src, req)
            else:
                segs, _ = await run_in_threadpool(large.dlo_segments, src, req)
            total = sum(s.length for s in segs)
            src.close()
            body = iterate_in_threadpool(large.iter_segments(segs, 0, total, req))
            info = await service.put_object(account, container, name, body, headers, length=total,
                                            delete_at=delete_at)
        else:
            info = await run_in_threadpool(service.copy_object, src, account, container, name,
                                           headers, delete_at)
        out = {"ETag": info.row["etag"] if not info.headers.get("x-static-large-object")
               else f'"{info.row["etag"]}"',
               "Last-Modified": service.http_date(info.ts),
               "X-Copied-From": f"{quote(sc)}/{quote(so)}",
               "X-Copied-From-Last-Modified": service.http_date(src.ts)}
        if s_account != account:
            out["X-Copied-From-Account"] = s_account
        for k, v in _object_headers(info).items():
            if k.lower().startswith("x-object-meta-") or k in ("Content-Type",):
                out[k] = v
        return reply(req, 201, b"", out, info.content_type)
    finally:
        src.close()


async def object_post(req: Any) -> Response:
    account = common.check_account(req.params["account"])
    container = common.check_container(req.params["container"])
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await middleware.formpost(req, account, container, req.params["path"])
    name = common.check_object(req.params["path"])
    middleware.tempurl_check(req, account, container, name)
    common.authorize(req, account, container, write=True)
    if "version-id" in req.query:
        raise errors.BadRequest("POST requests cannot have a version-id parameter")
    delete_at: Any = _parse_delete_at(req)
    if delete_at is None and req.headers.get("x-remove-delete-at") is not None:
        delete_at = None
    elif delete_at is None:
        delete_at = False
    cur = await run_in_threadpool(service.open_object, account, container, name)
    cur.close()
    headers = {k: v for k, v in cur.headers.items()
               if not k.startswith("x-object-meta-") and k not in OBJECT_POSTABLE}
    headers["content-type"] = cur.content_type
    headers.update(_object_user_headers(req, name, detect_default=False))
    if cur.is_slo:
        headers["x-static-large-object"] = "True"
    info = await run_in_threadpool(service.post_object, account, container, name, headers, delete_at)
    return reply(req, 202, b"", {"Last-Modified": service.http_date(info.ts)}, HTML)


def object_delete(req: Any) -> Response:
    account, container, name = _names(req)
    middleware.tempurl_check(req, account, container, name)
    common.authorize(req, account, container, write=True)
    if req.query.get("multipart-manifest") == "delete":
        return middleware.slo_delete(req, account, container, name)
    if "version-id" in req.query:
        old = service.delete_version(account, container, name, req.query["version-id"])
        return reply(req, 204, b"", {"X-Object-Version-Id": old.get("vid") or "null"}, HTML)
    old = service.delete_object(account, container, name)
    out = {}
    if old.get("marker_vid"):
        out["X-Object-Version-Id"] = old["marker_vid"]
    return reply(req, 204, b"", out, HTML)
