"""What other services may call on object storage (image store, volume backups).

Objects live in the account ``AUTH_<project_id>``; these calls bypass HTTP and policy
(the caller is onestack itself, acting for that project).
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from onestack import errors
from onestack.object import service


def account_for(project_id: str) -> str:
    return service.limits().reseller_prefix + project_id


def ensure_container(project_id: str, container: str) -> None:
    """Create the container if it does not exist (idempotent)."""
    service.create_container(account_for(project_id), container, {}, None)


async def put_object(project_id: str, container: str, name: str, stream: AsyncIterator[bytes],
                     content_type: str = "application/octet-stream",
                     metadata: dict[str, str] | None = None, length: int | None = None) -> dict[str, Any]:
    """Stream an object in (the container must exist); {etag, bytes, last_modified}."""
    headers = {"content-type": content_type}
    for k, v in (metadata or {}).items():
        headers[f"x-object-meta-{k.lower()}"] = v
    info = await service.put_object(account_for(project_id), container, name, stream, headers,
                                    length=length)
    return {"etag": info.row["etag"], "bytes": info.row["size"],
            "last_modified": info.row["last_modified"]}


def get_object(project_id: str, container: str, name: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    """({etag, bytes, content_type, metadata}, verified byte iterator); NotFound when absent."""
    info = service.open_object(account_for(project_id), container, name)
    if info.is_slo or info.dlo_manifest:
        info.close()
        raise errors.BadRequest("Large objects are not served through the interface.")
    meta = {k[len("x-object-meta-"):]: v for k, v in info.headers.items() if k.startswith("x-object-meta-")}
    return ({"etag": info.data_etag, "bytes": info.length, "content_type": info.content_type,
             "metadata": meta}, service.iter_object(info))


def delete_object(project_id: str, container: str, name: str) -> bool:
    """Delete an object; False when it did not exist."""
    try:
        service.delete_object(account_for(project_id), container, name)
        return True
    except errors.NotFound:
        return False


def list_object_names(project_id: str, container: str, prefix: str = "") -> list[str]:
    """Names of the objects in a container (all pages) starting with ``prefix``; [] when the
    container does not exist."""
    names: list[str] = []
    marker = ""
    while True:
        try:
            rows = service.list_objects(account_for(project_id), container, prefix=prefix, marker=marker,
                                        limit=10000)
        except errors.NotFound:
            return names
        page = [r["name"] for r in rows if "name" in r]
        names.extend(page)
        if len(rows) < 10000 or not page:
            return names
        marker = page[-1]
