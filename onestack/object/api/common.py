"""Swift HTTP helpers: name validation, metadata headers, listings, access (policy + ACLs)."""
from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from starlette.responses import Response

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.lock
    orjson = None  # type: ignore[assignment]

from onestack import errors
from onestack.object import service

TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=UTF-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"


def title(key: str) -> str:
    return "-".join(p[:1].upper() + p[1:] for p in key.split("-"))


def trans_id(req: Any) -> str:
    """Swift's transaction id shape (tx + 21 hex + '-' + 10 hex of the time), from the request id."""
    hexpart = req.ctx.request_id.replace("req-", "").replace("-", "")[:21].ljust(21, "0")
    return f"tx{hexpart}-{int(time.time()):010x}"


def reply(req: Any, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
          content_type: str | None = None) -> Response:
    h = {title(k): v for k, v in (headers or {}).items()}
    h.setdefault("Content-Type", content_type or (TEXT if status == 204 else HTML))
    h["X-Trans-Id"] = trans_id(req)
    if req.method == "HEAD" and "Content-Length" not in h:
        h["Content-Length"] = str(len(body))
    if status == 204:
        body = b""
    resp = Response(body if req.method != "HEAD" else b"", status_code=status, headers=h)
    return resp


# ---------------------------------------------------------------- names

def check_account(account: str) -> str:
    prefix = service.limits().reseller_prefix
    if not account or "\x00" in account or len(account.encode()) > service.limits().max_account_name_length:
        raise errors.BadRequest("Invalid account name.")
    if not account.startswith(prefix) or len(account) == len(prefix):
        raise errors.NotFound()
    return account


def check_container(name: str) -> str:
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        raise errors.BadRequest("Invalid container name.")
    if len(name.encode("utf-8", "surrogatepass")) > service.limits().max_container_name_length:
        raise errors.BadRequest(
            f"Container name length of {len(name.encode())} longer than "
            f"{service.limits().max_container_name_length}")
    _utf8(name)
    return name


def check_object(name: str) -> str:
    if not name or "\x00" in name:
        raise errors.BadRequest("Invalid object name.")
    if len(name.encode("utf-8", "surrogatepass")) > service.limits().max_object_name_length:
        raise errors.BadRequest(
            f"Object name length of {len(name.encode())} longer than "
            f"{service.limits().max_object_name_length}")
    if any(seg in (".", "..") for seg in name.split("/")):
        raise errors.BadRequest("Object names may not contain '.' or '..' path segments.")
    _utf8(name)
    return name


def _utf8(name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.BadRequest("Invalid UTF8 or contains NULL") from None


def split_ref(value: str, what: str = "X-Copy-From") -> tuple[str, str]:
    """'container/object' (URL-quoted, optional leading slash) -> (container, object)."""
    v = unquote(value.strip())
    if v.startswith("/"):
        v = v[1:]
    cont, _, obj = v.partition("/")
    if not cont or not obj:
        raise errors.PreconditionFailed(f"{what} header must be of the form <container name>/<object name>")
    return check_container(cont), check_object(obj)


# ---------------------------------------------------------------- metadata

def user_meta(headers: Any, kind: str) -> dict[str, str]:
    """``X-<kind>-Meta-*`` (and ``X-Remove-<kind>-Meta-*`` as empty values), validated."""
    lim = service.limits()
    out: dict[str, str] = {}
    prefix = f"x-{kind}-meta-"
    rprefix = f"x-remove-{kind}-meta-"
    for k, v in headers.items():
        k = k.lower()
        if k.startswith(prefix):
            name = k[len(prefix):]
            if not name:
                raise errors.BadRequest("Metadata name cannot be empty")
            out[k] = v.strip()
        elif k.startswith(rprefix):
            name = k[len(rprefix):]
            if name:
                out[prefix + name] = ""
    count = 0
    size = 0
    for k, v in out.items():
        name = k[len(prefix):]
        if len(name) > lim.max_meta_name_length:
            raise errors.BadRequest(f"Metadata name too long: {name[:lim.max_meta_name_length]}; "
                                    f"max {lim.max_meta_name_length}")
        if len(v) > lim.max_meta_value_length:
            raise errors.BadRequest(f"Metadata value longer than {lim.max_meta_value_length}: {name}")
        if v:
            count += 1
            size += len(name) + len(v)
    if count > lim.max_meta_count:
        raise errors.BadRequest(f"Too many metadata items; max {lim.max_meta_count}")
    if size > lim.max_meta_overall_size:
        raise errors.BadRequest(f"Total metadata too large; max {lim.max_meta_overall_size}")
    return out


def check_meta_totals(existing: dict[str, str], updates: dict[str, str], kind: str) -> None:
    lim = service.limits()
    prefix = f"x-{kind}-meta-"
    merged = {k: v for k, v in {**existing, **updates}.items() if k.startswith(prefix) and v}
    if len(merged) > lim.max_meta_count:
        raise errors.BadRequest(f"Too many metadata items; max {lim.max_meta_count}")
    if sum(len(k) - len(prefix) + len(v) for k, v in merged.items()) > lim.max_meta_overall_size:
        raise errors.BadRequest(f"Total metadata too large; max {lim.max_meta_overall_size}")


def meta_headers(meta: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    return {title(k): v for k, v in meta.items() if k.startswith(prefixes)}


# ---------------------------------------------------------------- listings

def listing_format(req: Any) -> str:
    fmt = (req.query.get("format") or "").lower()
    if fmt in ("json",):
        return "json"
    if fmt in ("xml",):
        return "xml"
    if fmt in ("plain", "text"):
        return "plain"
    accept = (req.headers.get("accept") or "").lower()
    if not accept or "*/*" in accept or "text/plain" in accept or "text/*" in accept:
        if "application/json" in accept:
            return "json"
        return "plain"
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    raise errors.NotAcceptable("Unsupported format requested.")


def listing_params(req: Any, cap: int) -> dict[str, Any]:
    q = req.query
    limit = cap
    if "limit" in q:
        try:
            limit = int(q["limit"])
        except ValueError:
            raise errors.PreconditionFailed("Value of limit must be a positive integer") from None
        if limit < 0:
            raise errors.PreconditionFailed("Value of limit must be a positive integer")
        if limit > cap:
            raise errors.PreconditionFailed(f"Maximum limit is {cap}")
    delimiter = q.get("delimiter", "")
    if len(delimiter) > 1:
        raise errors.PreconditionFailed("Bad delimiter")
    for key in ("marker", "end_marker", "prefix"):
        v = q.get(key, "")
        if "\x00" in v or len(v.encode("utf-8", "surrogatepass")) > 1024:
            raise errors.PreconditionFailed(f"Bad {key}")
    params = {"prefix": q.get("prefix", ""), "delimiter": delimiter, "marker": q.get("marker", ""),
              "end_marker": q.get("end_marker", ""), "limit": limit,
              "reverse": q.get("reverse", "").lower() in ("1", "true", "yes", "on", "t", "y")}
    if "path" in q:
        path = q["path"].rstrip("/")
        params.update(prefix=(path + "/") if path else "", delimiter="/")
    return params


def split_content_type(ct: str) -> tuple[str, str | None]:
    """(content type, symlink path or None) of a listing row's content type."""
    if ";symlink_target=" not in ct:
        return ct, None
    base, _, rest = ct.partition(";symlink_target=")
    target, _, account = rest.partition(";symlink_target_account=")
    return base, f"/v1/{account}/{target}"


def _json(items: list[dict[str, Any]]) -> bytes:
    if orjson is not None:
        return orjson.dumps(items)
    return json.dumps(items).encode()


def render_container_listing(req: Any, container: str, rows: list[dict[str, Any]],
                             headers: dict[str, str]) -> Response:
    fmt = listing_format(req)
    if fmt == "json":
        items = []
        for r in rows:
            if "subdir" in r:
                items.append({"subdir": r["subdir"]})
            else:
                ctype, link = split_content_type(r["content_type"])
                item = {"name": r["name"], "hash": r["etag"], "bytes": r["size"],
                        "content_type": ctype, "last_modified": r["last_modified"]}
                if link:
                    item["symlink_path"] = link
                if "is_latest" in r:
                    item["version_id"] = r["vid"]
                    item["is_latest"] = r["is_latest"]
                items.append(item)
        return reply(req, 200, _json(items), headers, JSON)
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<container name={quoteattr(container)}>"]
        for r in rows:
            if "subdir" in r:
                parts.append(f"<subdir name={quoteattr(r['subdir'])}><name>{escape(r['subdir'])}</name></subdir>")
            else:
                version = (f"<version_id>{escape(r['vid'])}</version_id>"
                           f"<is_latest>{str(r['is_latest']).lower()}</is_latest>") if "is_latest" in r else ""
                parts.append(f"<object><name>{escape(r['name'])}</name><hash>{escape(r['etag'])}</hash>"
                             f"<bytes>{r['size']}</bytes><content_type>{escape(split_content_type(r['content_type'])[0])}"
                             f"</content_type><last_modified>{r['last_modified']}</last_modified>{version}</object>")
        parts.append("</container>")
        return reply(req, 200, "".join(parts).encode(), headers, XML)
    if not rows:
        return reply(req, 204, b"", headers, TEXT)
    text = "".join((r.get("subdir") or r["name"]) + "\n" for r in rows)
    return reply(req, 200, text.encode(), headers, TEXT)


def render_account_listing(req: Any, account: str, rows: list[dict[str, Any]],
                           headers: dict[str, str]) -> Response:
    fmt = listing_format(req)
    if fmt == "json":
        items = []
        for r in rows:
            if "subdir" in r:
                items.append({"subdir": r["subdir"]})
            else:
                items.append({"name": r["name"], "count": r["object_count"], "bytes": r["bytes_used"],
                              "last_modified": r["last_modified"]})
        return reply(req, 200, json.dumps(items).encode(), headers, JSON)
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<account name={quoteattr(account)}>"]
        for r in rows:
            if "subdir" in r:
                parts.append(f"<subdir name={quoteattr(r['subdir'])}><name>{escape(r['subdir'])}</name></subdir>")
            else:
                parts.append(f"<container><name>{escape(r['name'])}</name><count>{r['object_count']}</count>"
                             f"<bytes>{r['bytes_used']}</bytes><last_modified>{r['last_modified']}"
                             f"</last_modified></container>")
        parts.append("</account>")
        return reply(req, 200, "".join(parts).encode(), headers, XML)
    if not rows:
        return reply(req, 204, b"", headers, TEXT)
    text = "".join((r.get("subdir") or r["name"]) + "\n" for r in rows)
    return reply(req, 200, text.encode(), headers, TEXT)


# ---------------------------------------------------------------- access

def project_of(account: str) -> str:
    return account[len(service.limits().reseller_prefix):]


def is_owner(req: Any, account: str, write: bool = True) -> bool:
    ctx = req.ctx
    if not ctx.authenticated:
        return False
    return ctx.can("object:write" if write else "object:read", {"project_id": project_of(account)},
                   fatal=False)


def is_reseller(req: Any) -> bool:
    return req.ctx.authenticated and req.ctx.can("object:reseller_admin", {}, fatal=False)


def deny(req: Any) -> errors.OpenStackError:
    if not req.ctx.authenticated:
        return errors.Unauthorized("This server could not verify that you are authorized to "
                                   "access the document you requested.")
    return errors.Forbidden("Access was denied to this resource.")


def _acl_items(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def _referrer_allowed(req: Any, items: list[str]) -> bool:
    referrer = req.headers.get("referer", "")
    host = ""
    if "://" in referrer:
        host = referrer.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    allowed = False
    for it in items:
        if not it.startswith(".r:") and not it.startswith(".referrer:"):
            continue
        val = it.split(":", 1)[1]
        neg = val.startswith("-")
        if neg:
            val = val[1:]
        hit = val == "*" or (host and (host == val or (val.startswith(".") and host.endswith(val))
                                       or (val.startswith("*.") and host.endswith(val[1:]))))
        if hit:
            allowed = not neg
    return allowed


def _user_matches(req: Any, items: list[str]) -> bool:
    ctx = req.ctx
    if not ctx.authenticated:
        return False
    projects = {"*", ctx.project_id, ctx.project_name}
    users = {"*", ctx.user_id, ctx.user_name}
    for it in items:
        if it.startswith("."):
            continue
        if ":" in it:
            p, _, u = it.partition(":")
            if p in projects and u in users:
                return True
        elif it in (ctx.user_id, ctx.user_name):
            return True
    return False


def account_acl(meta: dict[str, str]) -> dict[str, list[str]]:
    raw = meta.get("x-account-sysmeta-core-access-control")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _account_acl_level(req: Any, account: str) -> str | None:
    """'admin' | 'read-write' | 'read-only' | None from X-Account-Access-Control."""
    ctx = req.ctx
    if not ctx.authenticated:
        return None
    ainfo = service.backend().account_db(account).info()
    if ainfo is None:
        return None
    acl = account_acl(ainfo["meta"])
    ids = {ctx.user_id, ctx.user_name, ctx.project_id,
           f"{ctx.project_id}:{ctx.user_id}", f"{ctx.project_name}:{ctx.user_name}",
           f"{ctx.project_id}:*", f"{ctx.project_name}:*", f"*:{ctx.user_id}", "*:*"}
    for level in ("admin", "read-write", "read-only"):
        if ids & set(acl.get(level) or []):
            return level
    return None


def authorize(req: Any, account: str, container: str | None = None, *, write: bool = False,
              listing: bool = False, container_meta: dict[str, str] | None = None,
              account_level: bool = False) -> str:
    """Allow or raise 401/403. Returns how: 'owner', 'account-acl', 'acl' or 'tempurl'."""
    if getattr(req, "tempurl", None) is not None:
        return "tempurl"
    if is_owner(req, account, write=write):
        return "owner"
    level = _account_acl_level(req, account)
    if level == "admin":
        return "account-acl"
    if level is not None and not account_level:
        if not write or level == "read-write":
            return "account-acl"
    if container is not None and not account_level:
        meta = container_meta
        if meta is None:
            try:
                meta = service.container_info(account, container)["meta"]
            except errors.NotFound:
                meta = {}
        if write:
            if _user_matches(req, _acl_items(meta.get("x-container-write"))):
                return "acl"
        else:
            items = _acl_items(meta.get("x-container-read"))
            if _user_matches(req, items):
                return "acl"
            if _referrer_allowed(req, items) and (not listing or ".rlistings" in items):
                return "acl"
    raise deny(req)


def validate_acl(value: str, header: str) -> str:
    """Reject an obviously malformed container ACL (Swift answers 400)."""
    for it in _acl_items(value):
        if it.startswith(".") and not (it.startswith(".r:") or it.startswith(".referrer:")
                                       or it in (".rlistings",)):
            raise errors.BadRequest(f"Invalid {header} header: unknown element {it!r}")
        if it in (".r:", ".referrer:"):
            raise errors.BadRequest(f"Invalid {header} header: empty referrer")
    return ",".join(_acl_items(value))


def now() -> float:
    return time.time()


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
