"""S3 on the same data: buckets are the containers, keys the objects, of the account
``AUTH_<project>`` of the EC2 credential that signed the request.

Mounted at ``/object/s3`` (path style: ``http://HOST/object/s3/BUCKET/KEY``; boto3's
``endpoint_url`` is ``http://HOST/object/s3``). Virtual-host style
(``BUCKET.<s3_domain>``) is served when ``[object] s3_domain`` is set (see
``vhost_rewrite``). Authentication is AWS Signature V4 (Authorization header or
presigned query) with EC2 credentials from identity; access decisions then follow the
same policy and ACL rules as Swift.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from onestack import errors
from onestack.api.routing import route
from onestack.context import RequestContext
from onestack.object import service
from onestack.object.api import common, large
from onestack.object.errors import S3Error

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIN_PART = 5 * 1024 * 1024
SEGMENTS = "+segments"


def no_bucket(name: str) -> S3Error:
    return S3Error(404, "NoSuchBucket", "The specified bucket does not exist.")


def no_key() -> S3Error:
    return S3Error(404, "NoSuchKey", "The specified key does not exist.")


# ---------------------------------------------------------------- SigV4

_cred_cache: dict[str, tuple[float, dict[str, Any] | None, list[str]]] = {}
_cred_lock = threading.Lock()


def _credential(access: str) -> tuple[dict[str, Any] | None, list[str]]:
    now = time.monotonic()
    with _cred_lock:
        hit = _cred_cache.get(access)
        if hit and now - hit[0] < 5.0:
            return hit[1], hit[2]
    from onestack.identity import interface as identity
    cred = identity.ec2_credential(access)
    roles = identity.project_roles(cred["user_id"], cred["project_id"]) if cred else []
    with _cred_lock:
        _cred_cache[access] = (now, cred, roles)
        if len(_cred_cache) > 1024:
            _cred_cache.clear()
    return cred, roles


def _uri_encode(s: str) -> str:
    return quote(s, safe="-_.~")


def _canonical_query(raw: bytes, drop: str | None = None) -> str:
    pairs = []
    for part in raw.decode("latin-1").split("&") if raw else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = unquote(k.replace("+", "%20")), unquote(v.replace("+", "%20"))
        if k == drop:
            continue
        pairs.append((_uri_encode(k), _uri_encode(v)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _signing_key(secret: str, date: str, region: str, svc: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _amz_time(value: str) -> float:
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None


def authenticate(req: Any) -> None:
    """Verify the request's SigV4 signature; set ``req.ctx`` to the credential's owner."""
    scope = req.raw.scope
    raw_query: bytes = scope.get("query_string", b"")
    q = req.query
    auth = req.headers.get("authorization", "")
    if auth.startswith("AWS4-HMAC-SHA256"):
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256"):].split(",") if "=" in p)
        credential = fields.get("Credential", "")
        signed = fields.get("SignedHeaders", "")
        signature = fields.get("Signature", "")
        amz_date = req.headers.get("x-amz-date") or ""
        payload = req.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        presigned = False
    elif "X-Amz-Signature" in q:
        if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error(400, "AuthorizationQueryParametersError", "Unsupported X-Amz-Algorithm")
        credential = q.get("X-Amz-Credential", "")
        signed = q.get("X-Amz-SignedHeaders", "")
        signature = q.get("X-Amz-Signature", "")
        amz_date = q.get("X-Amz-Date", "")
        payload = "UNSIGNED-PAYLOAD"
        presigned = True
    elif auth.startswith("AWS "):
        raise S3Error(400, "InvalidRequest", "Signature Version 2 is not supported; use AWS4-HMAC-SHA256.")
    else:
        raise S3Error(403, "AccessDenied", "Access Denied")
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
    access, date, region, svc = parts[:4]
    t = _amz_time(amz_date)
    now = time.time()
    if presigned:
        try:
            expires = int(q.get("X-Amz-Expires", "0"))
        except ValueError:
            raise S3Error(400, "AuthorizationQueryParametersError", "Invalid X-Amz-Expires") from None
        if expires < 0 or expires > 604800:
            raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 0..604800")
        if now > t + expires:
            raise S3Error(403, "AccessDenied", "Request has expired")
    elif abs(now - t) > 900:
        raise S3Error(403, "RequestTimeTooSkewed",
                      "The difference between the request time and the current time is too large.")
    cred, roles = _credential(access)
    if cred is None:
        raise S3Error(403, "InvalidAccessKeyId",
                      "The AWS Access Key Id you provided does not exist in our records.")
    headers = []
    for name in signed.split(";"):
        if not name:
            continue
        v = req.headers.get(name)
        if v is None:
            raise S3Error(403, "SignatureDoesNotMatch", f"Signed header {name} is missing.")
        headers.append(f"{name}:{' '.join(v.strip().split())}\n")
    raw_path = scope.get("raw_path") or req.raw.url.path.encode()
    canonical = "\n".join([req.method, raw_path.decode("latin-1"),
                           _canonical_query(raw_query, "X-Amz-Signature" if presigned else None),
                           "".join(headers), signed, payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{svc}/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _signing_key(cred["secret"], date, region, svc)
    want = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                      "match the signature you provided. Check your key and signing method.")
    project = cred["project_id"]
    req.ctx = RequestContext(user_id=cred["user_id"], project_id=project, roles=roles,
                             request_id=req.ctx.request_id, service="object")
    req.s3_account = service.limits().reseller_prefix + project
    req.s3_payload = payload
    # what a signed aws-chunked body's chunk signatures chain from
    req.s3_chunk_signing = (key, amz_date, f"{date}/{region}/{svc}/aws4_request", signature)


# ---------------------------------------------------------------- bodies

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class _ChunkSigner:
    """Checks each chunk's signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body: every
    chunk signs the previous signature (the first, the request's own) and its data's hash."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str):
        self.key, self.amz_date, self.scope, self.prev = key, amz_date, scope, seed

    def check(self, signature: str | None, data: bytes) -> None:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, self.prev,
                             EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
        want = hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
        if signature is None or not hmac.compare_digest(want, signature):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                          "match the signature you provided (aws-chunked chunk signature).")
        self.prev = want


async def _aws_chunked(stream: AsyncIterator[bytes], signer: _ChunkSigner | None = None
                       ) -> AsyncIterator[bytes]:
    """Decode aws-chunked framing; with ``signer`` every chunk's signature is verified
    (trailers, when a client sends them, are read and not verified)."""
    buf = bytearray()
    it = stream.__aiter__()
    done = False

    async def more() -> bool:
        nonlocal done
        if done:
            return False
        try:
            buf.extend(await it.__anext__())
            return True
        except StopAsyncIteration:
            done = True
            return False
    while True:
        while b"\r\n" not in buf:
            if not await more():
                raise S3Error(400, "IncompleteBody", "Truncated aws-chunked body")
        line, _, rest = bytes(buf).partition(b"\r\n")
        size_s, _, ext = line.partition(b";")
        try:
            size = int(size_s.strip(), 16)
        except ValueError:
            raise S3Error(400, "InvalidRequest", "Malformed aws-chunked body") from None
        sig = None
        if ext.strip().startswith(b"chunk-signature="):
            sig = ext.strip()[len(b"chunk-signature="):].decode("latin-1")
        del buf[:len(line) + 2]
        if size == 0:
            if signer is not None:
                signer.check(sig, b"")
            while await more():
                pass
            return
        while len(buf) < size + 2:
            if not await more():
                raise S3Error(400, "IncompleteBody", "Truncated aws-chunked body")
        data = bytes(buf[:size])
        if signer is not None:
            signer.check(sig, data)
        yield data
        del buf[:size + 2]


async def _payload(req: Any) -> AsyncIterator[bytes]:
    sha = getattr(req, "s3_payload", "UNSIGNED-PAYLOAD")
    stream: AsyncIterator[bytes] = req.raw.stream()
    if sha.startswith("STREAMING-") or "aws-chunked" in req.headers.get("content-encoding", ""):
        signer = None
        if sha in ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"):
            signer = _ChunkSigner(*req.s3_chunk_signing)
        stream = _aws_chunked(stream, signer)
    if re.fullmatch(r"[0-9a-f]{64}", sha):
        h = hashlib.sha256()
        async for c in stream:
            h.update(c)
            yield c
        if h.hexdigest() != sha:
            raise S3Error(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
    else:
        async for c in stream:
            yield c


def _length(req: Any) -> int | None:
    for h in ("x-amz-decoded-content-length", "content-length"):
        v = req.headers.get(h)
        if v is not None:
            try:
                return int(v)
            except ValueError:
                raise S3Error(400, "InvalidArgument", f"Invalid {h}") from None
    return None


async def _read_body(req: Any, limit: int = 10 << 20) -> bytes:
    out = bytearray()
    async for c in _payload(req):
        out.extend(c)
        if len(out) > limit:
            raise S3Error(400, "MaxMessageLengthExceeded", "Your request was too big.")
    return bytes(out)


def _xml(req: Any, status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    h = {"x-amz-request-id": req.ctx.request_id, **(headers or {})}
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    return Response(data if req.method != "HEAD" else b"", status_code=status, headers=h,
                    media_type="application/xml")


def _empty(req: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"x-amz-request-id": req.ctx.request_id, **(headers or {})}
    return Response(b"", status_code=status, headers=h)


def _iso(ts: str) -> str:
    return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _row_iso(last_modified: str) -> str:
    return last_modified[:19] + ".000Z"


# ---------------------------------------------------------------- wrapper

_HANDLERS: dict[tuple[str, str], Callable[[Any], Awaitable[Response]]] = {}


def s3(method: str, kind: str) -> Callable[[Any], Any]:
    """Register a handler for (method, 'service' | 'bucket' | 'object')."""
    def register(fn: Callable[[Any], Awaitable[Response]]) -> Callable[[Any], Awaitable[Response]]:
        _HANDLERS[(method, kind)] = fn
        return fn
    return register


def _vhost(req: Any) -> None:
    """Virtual-host style: BUCKET.<s3_domain> names the bucket; the path is the key."""
    dom = service.limits().s3_domain
    host = (req.headers.get("host") or "").rsplit(":", 1)[0].lower()
    if not dom or not host.endswith("." + dom.lower()):
        return
    bucket = host[:-len(dom) - 1]
    key = "/".join(p for p in (req.params.get("bucket"), req.params.get("path")) if p)
    req.params = {"bucket": bucket, **({"path": key} if key else {})}


async def entry(req: Any) -> Response:
    """Every S3 request: signature, then the handler for its method and target."""
    try:
        _vhost(req)
        kind = "object" if "path" in req.params else "bucket" if "bucket" in req.params else "service"
        fn = _HANDLERS.get(("GET" if req.method == "HEAD" else req.method, kind))
        await run_in_threadpool(authenticate, req)
        if fn is None:
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        resp = await fn(req)
    except errors.OpenStackError as e:
        if isinstance(e, errors.NotFound) and not isinstance(e, S3Error):
            e = no_bucket("") if "path" not in req.params else no_key()
        status, headers, body = errors.render(e, "s3", req.ctx.request_id)
        if status == 304:
            return Response(b"", status_code=304, headers={k: v for k, v in headers.items()
                                                            if k.lower() != "content-type"})
        return Response(body if req.method != "HEAD" else b"", status_code=status, headers=headers)
    resp.headers["x-amz-request-id"] = req.ctx.request_id
    return resp


BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")


def _bucket(req: Any, create: bool = False) -> tuple[str, str]:
    name = req.params["bucket"]
    if not BUCKET_RE.match(name) or ".." in name or "+" in name:
        if create:
            raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.")
        raise no_bucket(name)
    return req.s3_account, name


def _key(req: Any) -> str:
    key = req.params["path"]
    try:
        return common.check_object(key)
    except errors.BadRequest as e:
        raise S3Error(400, "KeyTooLongError" if len(key.encode()) > 1024 else "InvalidArgument",
                      e.message) from None


def _require_bucket(account: str, bucket: str) -> dict[str, Any]:
    try:
        return service.container_info(account, bucket)
    except errors.NotFound:
        raise no_bucket(bucket) from None


# ---------------------------------------------------------------- service / buckets

@s3("GET", "service")
async def list_buckets(req: Any) -> Response:
    account = req.s3_account
    common.authorize(req, account)
    rows = await run_in_threadpool(service.list_containers, account, limit=10000)
    items = "".join(f"<Bucket><Name>{escape(r['name'])}</Name><CreationDate>{_row_iso(r['last_modified'])}"
                    f"</CreationDate></Bucket>" for r in rows if "+" not in r["name"])
    owner = f"<Owner><ID>{req.ctx.project_id}</ID><DisplayName>{req.ctx.project_id}</DisplayName></Owner>"
    return _xml(req, 200, f'<ListAllMyBucketsResult xmlns="{XMLNS}">{owner}<Buckets>{items}</Buckets>'
                          f"</ListAllMyBucketsResult>")


@s3("PUT", "bucket")
async def bucket_put(req: Any) -> Response:
    account, bucket = _bucket(req, create=True)
    common.authorize(req, account, bucket, write=True, account_level=True)
    q = req.query
    if "tagging" in q:
        body = await _read_body(req)
        tags = _parse_tags(body)
        await run_in_threadpool(service.set_container_meta, account, bucket,
                                {"x-container-sysmeta-s3-tagging": json.dumps(tags)})
        return _empty(req, 204)
    if set(q) & {"acl", "versioning", "cors", "policy", "lifecycle", "website", "logging"}:
        await _read_body(req)
        if "acl" in q:
            return _empty(req, 200)
        raise S3Error(501, "NotImplemented", "This bucket sub-resource is not implemented.")
    await _read_body(req)
    if await run_in_threadpool(service.container_exists, account, bucket):
        raise S3Error(409, "BucketAlreadyOwnedByYou",
                      "Your previous request to create the named bucket succeeded and you already own it.")
    await run_in_threadpool(service.create_container, account, bucket, {}, None)
    return _empty(req, 200, {"Location": f"/{bucket}"})


@s3("DELETE", "bucket")
async def bucket_delete(req: Any) -> Response:
    account, bucket = _bucket(req)
    common.authorize(req, account, bucket, write=True, account_level=True)
    _require_bucket(account, bucket)
    if "tagging" in req.query:
        await run_in_threadpool(service.set_container_meta, account, bucket,
                                {"x-container-sysmeta-s3-tagging": ""})
        return _empty(req, 204)
    try:
        await run_in_threadpool(service.delete_container, account, bucket)
    except errors.Conflict:
        raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty") from None
    seg = bucket + SEGMENTS
    if await run_in_threadpool(service.container_exists, account, seg):
        try:
            await run_in_threadpool(service.delete_container, account, seg)
        except errors.Conflict:
            pass
    return _empty(req, 204)


@s3("GET", "bucket")
async def bucket_get(req: Any) -> Response:
    account, bucket = _bucket(req)
    q = req.query
    cinfo = _require_bucket(account, bucket) if req.method != "HEAD" else None
    common.authorize(req, account, bucket, listing=True)
    if req.method == "HEAD":
        _require_bucket(account, bucket)
        return _empty(req, 200, {"x-amz-bucket-region": service.limits().s3_region})
    assert cinfo is not None
    if "location" in q:
        return _xml(req, 200, f'<LocationConstraint xmlns="{XMLNS}">{escape(service.limits().s3_region)}'
                              f"</LocationConstraint>")
    if "versioning" in q:
        return _xml(req, 200, f'<VersioningConfiguration xmlns="{XMLNS}"/>')
    if "tagging" in q:
        raw = cinfo["meta"].get("x-container-sysmeta-s3-tagging")
        if not raw:
            raise S3Error(404, "NoSuchTagSet", "The TagSet does not exist")
        return _xml(req, 200, _tags_xml(json.loads(raw)))
    if "acl" in q:
        return _xml(req, 200, _acl_xml(req))
    if "uploads" in q:
        return await _list_uploads(req, account, bucket)
    v2 = q.get("list-type") == "2"
    try:
        max_keys = min(int(q.get("max-keys", "1000")), 1000)
    except ValueError:
        raise S3Error(400, "InvalidArgument", "max-keys must be an integer") from None
    if max_keys < 0:
        raise S3Error(400, "InvalidArgument", "max-keys must be >= 0")
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    if v2:
        token = q.get("continuation-token")
        marker = base64.urlsafe_b64decode(token.encode()).decode() if token else q.get("start-after", "")
    else:
        marker = q.get("marker", "")
    rows = await run_in_threadpool(service.list_objects, account, bucket, prefix=prefix,
                                   delimiter=delimiter[:1] if delimiter else "", marker=marker,
                                   limit=max_keys + 1)
    truncated = len(rows) > max_keys
    rows = rows[:max_keys]
    contents, prefixes = [], []
    for r in rows:
        if "subdir" in r:
            prefixes.append(f"<CommonPrefixes><Prefix>{escape(r['subdir'])}</Prefix></CommonPrefixes>")
        else:
            owner = ("" if v2 and q.get("fetch-owner") != "true" else
                     f"<Owner><ID>{req.ctx.project_id}</ID><DisplayName>{req.ctx.project_id}</DisplayName></Owner>")
            contents.append(f"<Contents><Key>{escape(r['name'])}</Key><LastModified>{_row_iso(r['last_modified'])}"
                            f"</LastModified><ETag>&quot;{escape(r['etag'])}&quot;</ETag><Size>{r['size']}</Size>"
                            f"<StorageClass>STANDARD</StorageClass>{owner}</Contents>")
    last = (rows[-1].get("name") or rows[-1].get("subdir")) if rows else ""
    head = (f'<ListBucketResult xmlns="{XMLNS}"><Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>'
            f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        head += f"<Delimiter>{escape(delimiter)}</Delimiter>"
    head += f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
    if v2:
        head += f"<KeyCount>{len(rows)}</KeyCount>"
        if q.get("continuation-token"):
            head += f"<ContinuationToken>{escape(q['continuation-token'])}</ContinuationToken>"
        if q.get("start-after"):
            head += f"<StartAfter>{escape(q['start-after'])}</StartAfter>"
        if truncated:
            head += (f"<NextContinuationToken>{base64.urlsafe_b64encode(last.encode()).decode()}"
                     f"</NextContinuationToken>")
    else:
        head += f"<Marker>{escape(marker)}</Marker>"
        if truncated and delimiter:
            head += f"<NextMarker>{escape(last)}</NextMarker>"
    return _xml(req, 200, head + "".join(contents) + "".join(prefixes) + "</ListBucketResult>")


def _acl_xml(req: Any) -> str:
    pid = req.ctx.project_id
    return (f'<AccessControlPolicy xmlns="{XMLNS}"><Owner><ID>{pid}</ID><DisplayName>{pid}</DisplayName></Owner>'
            f'<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:type="CanonicalUser"><ID>{pid}</ID><DisplayName>{pid}</DisplayName></Grantee>'
            f"<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>")


@s3("POST", "bucket")
async def bucket_post(req: Any) -> Response:
    account, bucket = _bucket(req)
    if "delete" not in req.query:
        raise S3Error(400, "InvalidRequest", "Unsupported POST on a bucket.")
    _require_bucket(account, bucket)
    body = await _read_body(req, 2 << 20)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    ns = _ns(root)
    quiet = (root.findtext(f"{ns}Quiet") or "").lower() == "true"
    keys = [o.findtext(f"{ns}Key") or "" for o in root.findall(f"{ns}Object")]
    if len(keys) > 1000:
        raise S3Error(400, "MalformedXML", "At most 1000 keys may be deleted at once.")
    out = []
    for key in keys:
        try:
            common.check_object(key)
            common.authorize(req, account, bucket, write=True)
            await run_in_threadpool(_delete_key, req, account, bucket, key)
            if not quiet:
                out.append(f"<Deleted><Key>{escape(key)}</Key></Deleted>")
        except errors.NotFound:
            if not quiet:
                out.append(f"<Deleted><Key>{escape(key)}</Key></Deleted>")
        except errors.OpenStackError as e:
            code = getattr(e, "s3_code", None) or ("AccessDenied" if e.code in (401, 403) else "InvalidArgument")
            out.append(f"<Error><Key>{escape(key)}</Key><Code>{code}</Code><Message>{escape(e.message)}"
                       f"</Message></Error>")
    return _xml(req, 200, f'<DeleteResult xmlns="{XMLNS}">{"".join(out)}</DeleteResult>')


def _ns(root: ET.Element) -> str:
    return root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""


# ---------------------------------------------------------------- tagging

def _parse_tags(body: bytes) -> dict[str, str]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    ns = _ns(root)
    tags = {}
    for t in root.iter(f"{ns}Tag"):
        k, v = t.findtext(f"{ns}Key"), t.findtext(f"{ns}Value") or ""
        if not k or len(k) > 128 or len(v) > 256:
            raise S3Error(400, "InvalidTag", "The tag provided was not a valid tag.")
        tags[k] = v
    if len(tags) > 50:
        raise S3Error(400, "BadRequest", "Object tags cannot be greater than 10")
    return tags


def _tags_xml(tags: dict[str, str]) -> str:
    items = "".join(f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags.items())
    return f'<Tagging xmlns="{XMLNS}"><TagSet>{items}</TagSet></Tagging>'


def _tags_from_header(value: str) -> dict[str, str]:
    from urllib.parse import parse_qsl
    return dict(parse_qsl(value, keep_blank_values=True))


# ---------------------------------------------------------------- objects

def _s3_headers(info: service.ObjectInfo) -> dict[str, str]:
    h: dict[str, str] = {}
    for k, v in info.headers.items():
        if k.startswith("x-object-meta-"):
            h["x-amz-meta-" + k[len("x-object-meta-"):]] = v
        elif k in ("content-encoding", "content-disposition", "content-language", "cache-control", "expires"):
            h[k] = v
    tags = info.headers.get("x-object-sysmeta-s3-tagging")
    if tags:
        h["x-amz-tagging-count"] = str(len(json.loads(tags)))
    return h


def _etag_of(info: service.ObjectInfo) -> str:
    e = info.headers.get("x-object-sysmeta-s3-etag") or (
        info.headers.get("x-object-sysmeta-slo-etag") if info.is_slo else info.data_etag)
    return f'"{e}"'


@s3("GET", "object")
async def object_get(req: Any) -> Response:
    from onestack.object.api import swift
    account, bucket = _bucket(req)
    key = _key(req)
    _require_bucket(account, bucket)
    common.authorize(req, account, bucket)
    q = req.query
    if "uploadId" in q:
        return await _list_parts(req, account, bucket, key)
    info = await run_in_threadpool(service.open_object, account, bucket, key)
    if "tagging" in q:
        info.close()
        tags = json.loads(info.headers.get("x-object-sysmeta-s3-tagging") or "{}")
        return _xml(req, 200, _tags_xml(tags))
    if "acl" in q:
        info.close()
        return _xml(req, 200, _acl_xml(req))
    etag = _etag_of(info)
    extra = _s3_headers(info)
    _s3_conditional(req, etag.strip('"'), info.ts)
    resp = await run_in_threadpool(swift._serve, _NoCond(req), info, "owner", 0)
    for k in list(resp.headers.keys()):
        if k.startswith("x-object-meta-") or k in ("x-timestamp", "x-trans-id", "x-static-large-object"):
            del resp.headers[k]
    resp.headers["etag"] = etag
    for k, v in extra.items():
        resp.headers[k] = v
    for param, header in (("response-content-type", "content-type"),
                          ("response-content-disposition", "content-disposition"),
                          ("response-content-encoding", "content-encoding"),
                          ("response-cache-control", "cache-control"),
                          ("response-expires", "expires"), ("response-content-language", "content-language")):
        if q.get(param):
            resp.headers[header] = q[param]
    return resp


class _NoCond:
    """A view of the request without conditional headers (S3 checks them itself)."""

    def __init__(self, req: Any):
        self._req = req
        self.headers = {k: v for k, v in req.headers.items()
                        if k.lower() not in ("if-match", "if-none-match", "if-modified-since",
                                             "if-unmodified-since")}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._req, name)


def _s3_conditional(req: Any, etag: str, ts: str) -> None:
    from onestack.object import errors as oerr
    lm = int(float(ts)) + (1 if float(ts) % 1 else 0)
    im = req.headers.get("if-match")
    if im is not None and etag not in [t.strip().strip('"') for t in im.split(",")] and im.strip() != "*":
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    inm = req.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or etag in [t.strip().strip('"') for t in inm.split(",")]):
        raise oerr.NotModified(headers={"ETag": f'"{etag}"'})
    ius = req.headers.get("if-unmodified-since")
    if ius is not None and im is None:
        t = service.parse_http_date(ius)
        if t is not None and lm > t:
            raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    ims = req.headers.get("if-modified-since")
    if ims is not None and inm is None:
        t = service.parse_http_date(ims)
        if t is not None and lm <= t:
            raise oerr.NotModified(headers={"ETag": f'"{etag}"'})


def _user_headers(req: Any, key: str) -> dict[str, str]:
    import mimetypes
    h: dict[str, str] = {}
    for k, v in req.headers.items():
        kl = k.lower()
        if kl.startswith("x-amz-meta-"):
            h["x-object-meta-" + kl[len("x-amz-meta-"):]] = v
        elif kl in ("content-disposition", "content-language", "cache-control", "expires"):
            h[kl] = v
        elif kl == "content-encoding":
            v2 = ",".join(p for p in (x.strip() for x in v.split(",")) if p and p != "aws-chunked")
            if v2:
                h[kl] = v2
    h["content-type"] = req.headers.get("content-type") or mimetypes.guess_type(key)[0] or \
        "binary/octet-stream"
    tagging = req.headers.get("x-amz-tagging")
    if tagging:
        h["x-object-sysmeta-s3-tagging"] = json.dumps(_tags_from_header(tagging))
    return h


def _content_md5(req: Any) -> str | None:
    v = req.headers.get("content-md5")
    if not v:
        return None
    try:
        raw = base64.b64decode(v, validate=True)
    except ValueError:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.") from None
    if len(raw) != 16:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
    return raw.hex()


@s3("PUT", "object")
async def object_put(req: Any) -> Response:
    account, bucket = _bucket(req)
    key = _key(req)
    q = req.query
    _require_bucket(account, bucket)
    common.authorize(req, account, bucket, write=True)
    if "tagging" in q:
        tags = _parse_tags(await _read_body(req))
        await run_in_threadpool(_set_sysmeta, account, bucket, key,
                                {"x-object-sysmeta-s3-tagging": json.dumps(tags)})
        return _empty(req, 200)
    if "acl" in q:
        await _read_body(req)
        return _empty(req, 200)
    if "uploadId" in q:
        return await _upload_part(req, account, bucket, key)
    src = req.headers.get("x-amz-copy-source")
    if src is not None:
        return await _copy(req, account, bucket, key, src)
    length = _length(req)
    if length is None and "chunked" not in req.headers.get("transfer-encoding", ""):
        raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
    if length is not None and length > 5 * 1024 ** 3:
        raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    try:
        info = await service.put_object(account, bucket, key, _payload(req), _user_headers(req, key),
                                        length=length, expected_etag=_content_md5(req))
    except errors.UnprocessableEntity:
        raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.") from None
    return _empty(req, 200, {"ETag": f'"{info.row["etag"]}"'})


def _set_sysmeta(account: str, bucket: str, key: str, updates: dict[str, str]) -> None:
    cur = service.open_object(account, bucket, key)
    cur.close()
    headers = dict(cur.headers)
    for k, v in updates.items():
        if v:
            headers[k] = v
        else:
            headers.pop(k, None)
    service.post_object(account, bucket, key, headers)


async def _copy(req: Any, account: str, bucket: str, key: str, src: str) -> Response:
    src = unquote(src.split("?", 1)[0]).lstrip("/")
    sb, _, sk = src.partition("/")
    if not sb or not sk:
        raise S3Error(400, "InvalidArgument", "Copy Source must mention the source bucket and key")
    common.authorize(req, account, sb)
    try:
        info = await run_in_threadpool(service.open_object, account, sb, sk)
    except errors.NotFound:
        raise no_key() from None
    try:
        _copy_preconditions(req, info)
        directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive == "REPLACE":
            headers = _user_headers(req, key)
            for k in ("x-static-large-object", "x-object-sysmeta-slo-etag", "x-object-sysmeta-slo-size",
                      "x-object-sysmeta-s3-etag"):
                if k in info.headers:
                    headers[k] = info.headers[k]
        else:
            if sb == bucket and sk == key:
                raise S3Error(400, "InvalidRequest", "This copy request is illegal because it is trying to "
                              "copy an object to itself without changing the object's metadata.")
            headers = {k: v for k, v in info.headers.items() if k != "x-object-sysmeta-length"}
        if info.is_slo:
            # a multipart object: copy its bytes into a plain object
            from starlette.concurrency import iterate_in_threadpool
            segs = await run_in_threadpool(large.slo_segments, info, req)
            total = sum(s.length for s in segs)
            for k in ("x-static-large-object", "x-object-sysmeta-slo-etag", "x-object-sysmeta-slo-size",
                      "x-object-sysmeta-s3-etag"):
                headers.pop(k, None)
            new = await service.put_object(account, bucket, key,
                                           iterate_in_threadpool(large.iter_segments(segs, 0, total, req)),
                                           headers, length=total)
        else:
            new = await run_in_threadpool(service.copy_object, info, account, bucket, key, headers)
    finally:
        info.close()
    return _xml(req, 200, f'<CopyObjectResult xmlns="{XMLNS}"><LastModified>{_iso(new.ts)}</LastModified>'
                          f"<ETag>&quot;{new.row['etag']}&quot;</ETag></CopyObjectResult>")


def _delete_key(req: Any, account: str, bucket: str, key: str) -> None:
    try:
        info = service.open_object(account, bucket, key)
    except errors.NotFound:
        return
    segs: list[str] = []
    if info.is_slo and info.headers.get("x-object-sysmeta-s3-etag"):
        segs = [i["name"] for i in json.loads(service.read_small(info))]
    else:
        info.close()
    service.delete_object(account, bucket, key)
    for s in segs:
        c, _, o = s.lstrip("/").partition("/")
        try:
            service.delete_object(account, c, o, versioning=False)
        except errors.NotFound:
            pass


@s3("DELETE", "object")
async def object_delete(req: Any) -> Response:
    account, bucket = _bucket(req)
    key = _key(req)
    _require_bucket(account, bucket)
    common.authorize(req, account, bucket, write=True)
    q = req.query
    if "uploadId" in q:
        await run_in_threadpool(_abort_upload, account, bucket, key, q["uploadId"])
        return _empty(req, 204)
    if "tagging" in q:
        await run_in_threadpool(_set_sysmeta, account, bucket, key, {"x-object-sysmeta-s3-tagging": ""})
        return _empty(req, 204)
    await run_in_threadpool(_delete_key, req, account, bucket, key)
    return _empty(req, 204)


# ---------------------------------------------------------------- multipart uploads

def _marker(key: str, upload_id: str) -> str:
    return f"{key}/{upload_id}"


def _part_name(key: str, upload_id: str, n: int) -> str:
    return f"{key}/{upload_id}/{n:05d}"


def _check_upload(account: str, bucket: str, key: str, upload_id: str) -> service.ObjectInfo:
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
        raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
    try:
        return service.open_object(account, bucket + SEGMENTS, _marker(key, upload_id))
    except errors.NotFound:
        raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.") from None


@s3("POST", "object")
async def object_post(req: Any) -> Response:
    account, bucket = _bucket(req)
    key = _key(req)
    q = req.query
    _require_bucket(account, bucket)
    common.authorize(req, account, bucket, write=True)
    if "uploads" in q:
        await _read_body(req)
        upload_id = uuid.uuid4().hex
        seg = bucket + SEGMENTS
        if not await run_in_threadpool(service.container_exists, account, seg):
            await run_in_threadpool(service.create_container, account, seg, {}, None)
        headers = _user_headers(req, key)
        headers = {f"x-object-sysmeta-s3-init-{k}": v for k, v in headers.items()}
        headers["content-type"] = "application/directory"
        await service.put_bytes(account, seg, _marker(key, upload_id), b"", headers, check_quota=False)
        return _xml(req, 200, f'<InitiateMultipartUploadResult xmlns="{XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
                              f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
                              f"</InitiateMultipartUploadResult>")
    if "uploadId" in q:
        return await _complete(req, account, bucket, key, q["uploadId"])
    raise S3Error(400, "InvalidRequest", "Unsupported POST on an object.")


async def _upload_part(req: Any, account: str, bucket: str, key: str) -> Response:
    q = req.query
    try:
        n = int(q.get("partNumber", ""))
    except ValueError:
        raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000") from None
    if not 1 <= n <= 10000:
        raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000")
    marker = await run_in_threadpool(_check_upload, account, bucket, key, q["uploadId"])
    marker.close()
    if req.headers.get("x-amz-copy-source"):
        return await _upload_part_copy(req, account, bucket, key, n)
    info = await service.put_object(account, bucket + SEGMENTS, _part_name(key, q["uploadId"], n),
                                    _payload(req), {"content-type": "application/octet-stream"},
                                    length=_length(req), expected_etag=_content_md5(req))
    return _empty(req, 200, {"ETag": f'"{info.row["etag"]}"'})


def _copy_source(req: Any, account: str) -> service.ObjectInfo:
    """The object named by x-amz-copy-source (read access checked), or NoSuchKey."""
    src = unquote(req.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
    sb, _, sk = src.partition("/")
    if not sb or not sk:
        raise S3Error(400, "InvalidArgument", "Copy Source must mention the source bucket and key")
    common.authorize(req, account, sb)
    try:
        return service.open_object(account, sb, sk)
    except errors.NotFound:
        raise no_key() from None


def _copy_preconditions(req: Any, src: service.ObjectInfo) -> None:
    etag = _etag_of(src).strip('"')
    cim = req.headers.get("x-amz-copy-source-if-match")
    cinm = req.headers.get("x-amz-copy-source-if-none-match")
    if (cim and cim.strip('"') != etag) or (cinm and cinm.strip('"') == etag):
        raise S3Error(412, "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold")


def _copy_range(value: str | None, total: int) -> tuple[int, int]:
    """x-amz-copy-source-range ``bytes=first-last`` (inclusive) as [start, end)."""
    if value is None:
        return 0, total
    m = re.fullmatch(r"bytes=(\d+)-(\d+)", value.strip())
    if not m or int(m.group(1)) > int(m.group(2)) or int(m.group(2)) >= total:
        raise S3Error(400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                      "bytes=first-last where first and last are the zero-based offsets of the first "
                      "and last bytes to copy, within the source object")
    return int(m.group(1)), int(m.group(2)) + 1


async def _upload_part_copy(req: Any, account: str, bucket: str, key: str, n: int) -> Response:
    """UploadPartCopy: a part made of (a range of) another object, plain or multipart."""
    from starlette.concurrency import iterate_in_threadpool
    src = await run_in_threadpool(_copy_source, req, account)
    try:
        _copy_preconditions(req, src)
        if src.is_slo:
            segs = await run_in_threadpool(large.slo_segments, src, req)
            total = sum(s.length for s in segs)
            a, b = _copy_range(req.headers.get("x-amz-copy-source-range"), total)
            body = iterate_in_threadpool(large.iter_segments(segs, a, b, req))
        else:
            a, b = _copy_range(req.headers.get("x-amz-copy-source-range"), src.length)
            body = iterate_in_threadpool(service.iter_object(src, a, b, close=False))
        info = await service.put_object(account, bucket + SEGMENTS,
                                        _part_name(key, req.query["uploadId"], n), body,
                                        {"content-type": "application/octet-stream"}, length=b - a)
    finally:
        src.close()
    return _xml(req, 200, f'<CopyPartResult xmlns="{XMLNS}"><LastModified>{_iso(info.ts)}</LastModified>'
                          f"<ETag>&quot;{info.row['etag']}&quot;</ETag></CopyPartResult>")


async def _list_parts(req: Any, account: str, bucket: str, key: str) -> Response:
    upload_id = req.query["uploadId"]
    marker = await run_in_threadpool(_check_upload, account, bucket, key, upload_id)
    marker.close()
    try:
        after = int(req.query.get("part-number-marker", "0"))
        max_parts = min(int(req.query.get("max-parts", "1000")), 1000)
    except ValueError:
        raise S3Error(400, "InvalidArgument", "Invalid part-number-marker or max-parts") from None
    rows = await run_in_threadpool(service.list_objects, account, bucket + SEGMENTS,
                                   prefix=_marker(key, upload_id) + "/",
                                   marker=_part_name(key, upload_id, after) if after else "",
                                   limit=max_parts + 1)
    truncated = len(rows) > max_parts
    rows = rows[:max_parts]
    parts = []
    for r in rows:
        num = int(r["name"].rsplit("/", 1)[1])
        parts.append(f"<Part><PartNumber>{num}</PartNumber><LastModified>{_row_iso(r['last_modified'])}"
                     f"</LastModified><ETag>&quot;{r['etag']}&quot;</ETag><Size>{r['size']}</Size></Part>")
    nxt = int(rows[-1]["name"].rsplit("/", 1)[1]) if rows else 0
    return _xml(req, 200, f'<ListPartsResult xmlns="{XMLNS}"><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>'
                          f"<UploadId>{upload_id}</UploadId><PartNumberMarker>{after}</PartNumberMarker>"
                          f"<NextPartNumberMarker>{nxt}</NextPartNumberMarker><MaxParts>{max_parts}</MaxParts>"
                          f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
                          f"<StorageClass>STANDARD</StorageClass>{''.join(parts)}</ListPartsResult>")


async def _list_uploads(req: Any, account: str, bucket: str) -> Response:
    seg = bucket + SEGMENTS
    rows = []
    if await run_in_threadpool(service.container_exists, account, seg):
        rows = await run_in_threadpool(service.list_objects, account, seg,
                                       prefix=req.query.get("prefix", ""), limit=10000)
    ups = []
    for r in rows:
        key, _, rest = r["name"].rpartition("/")
        if re.fullmatch(r"[0-9a-f]{32}", rest) and r["content_type"] == "application/directory":
            ups.append(f"<Upload><Key>{escape(key)}</Key><UploadId>{rest}</UploadId>"
                       f"<Initiated>{_row_iso(r['last_modified'])}</Initiated>"
                       f"<StorageClass>STANDARD</StorageClass></Upload>")
    return _xml(req, 200, f'<ListMultipartUploadsResult xmlns="{XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
                          f"<IsTruncated>false</IsTruncated>{''.join(ups[:1000])}</ListMultipartUploadsResult>")


def _abort_upload(account: str, bucket: str, key: str, upload_id: str) -> None:
    m = _check_upload(account, bucket, key, upload_id)
    m.close()
    seg = bucket + SEGMENTS
    for r in service.list_objects(account, seg, prefix=_marker(key, upload_id) + "/", limit=10000):
        try:
            service.delete_object(account, seg, r["name"], versioning=False)
        except errors.NotFound:
            pass
    try:
        service.delete_object(account, seg, _marker(key, upload_id), versioning=False)
    except errors.NotFound:
        pass


async def _complete(req: Any, account: str, bucket: str, key: str, upload_id: str) -> Response:
    marker = await run_in_threadpool(_check_upload, account, bucket, key, upload_id)
    marker.close()
    body = await _read_body(req, 2 << 20)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    ns = _ns(root)
    wanted = []
    for p in root.findall(f"{ns}Part"):
        try:
            wanted.append((int(p.findtext(f"{ns}PartNumber") or ""), (p.findtext(f"{ns}ETag") or "").strip('"')))
        except ValueError:
            raise S3Error(400, "MalformedXML", "Invalid PartNumber") from None
    if not wanted:
        raise S3Error(400, "MalformedXML", "You must specify at least one part")
    if [n for n, _ in wanted] != sorted({n for n, _ in wanted}):
        raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
    seg = bucket + SEGMENTS
    rows = await run_in_threadpool(service.list_objects, account, seg,
                                   prefix=_marker(key, upload_id) + "/", limit=10000)
    have = {int(r["name"].rsplit("/", 1)[1]): r for r in rows}
    manifest = []
    md5 = hashlib.md5()
    for i, (n, etag) in enumerate(wanted):
        r = have.get(n)
        if r is None or (etag and etag != r["etag"]):
            raise S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.")
        if r["size"] < MIN_PART and i < len(wanted) - 1:
            raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        manifest.append({"path": f"/{seg}/{r['name']}", "etag": r["etag"], "size_bytes": r["size"]})
        md5.update(bytes.fromhex(r["etag"]))
    s3etag = f"{md5.hexdigest()}-{len(wanted)}"
    stored, slo_etag, total = await run_in_threadpool(large.build_manifest, req, account,
                                                      json.dumps(manifest).encode())
    init = {k[len("x-object-sysmeta-s3-init-"):]: v for k, v in marker.headers.items()
            if k.startswith("x-object-sysmeta-s3-init-")}
    headers = {**init, "x-static-large-object": "True", "x-object-sysmeta-slo-etag": slo_etag,
               "x-object-sysmeta-slo-size": str(total), "x-object-sysmeta-s3-etag": s3etag}
    headers.setdefault("content-type", "binary/octet-stream")
    await service.put_bytes(account, bucket, key, stored, headers, check_quota=False)
    # parts not named in the completion are garbage now; the upload marker goes too
    used = {n for n, _ in wanted}
    for n, r in have.items():
        if n not in used:
            try:
                await run_in_threadpool(service.delete_object, account, seg, r["name"], versioning=False)
            except errors.NotFound:
                pass
    try:
        await run_in_threadpool(service.delete_object, account, seg, _marker(key, upload_id), versioning=False)
    except errors.NotFound:
        pass
    return _xml(req, 200, f'<CompleteMultipartUploadResult xmlns="{XMLNS}">'
                          f"<Location>{escape(req.raw.url.path)}</Location><Bucket>{escape(bucket)}</Bucket>"
                          f"<Key>{escape(key)}</Key><ETag>&quot;{s3etag}&quot;</ETag>"
                          f"</CompleteMultipartUploadResult>")


S3 = {"auth": False, "stream": True, "microversioned": False}
ROUTES = [route(m, p, entry, **S3) for p in ("/s3", "/s3/{bucket}", "/s3/{bucket}/{path}")
          for m in ("GET", "PUT", "POST", "DELETE")]
