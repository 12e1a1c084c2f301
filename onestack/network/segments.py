"""Network segments: the `segment` and `multi-provider` extensions.

Every network owns its first segment (index 0), which mirrors the network's provider
attributes and is created with it; an admin may add more (POST /v2.0/segments, or a
`segments` list in the network create body). Segmentation ids are unique per
(network_type, physical_network) across all segments, so the segments table is also what
VNI/VLAN allocation and clash checks read.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestack.db.base import utcnow
from onestack.network import errors as ne
from onestack.network import models as m

PROVIDER = {"provider:network_type": "network_type", "provider:physical_network": "physical_network",
            "provider:segmentation_id": "segmentation_id"}


def _bad(msg: str) -> ne.InvalidInput:
    return ne.InvalidInput(error_message=msg)


def split_multi_provider(v: dict[str, Any]) -> list[dict[str, Any]]:
    """Take a network body's `segments` list: the first becomes the network's provider
    attributes (in ``v``), the others are returned to be added as more segments."""
    segs = v.pop("segments", None)
    if segs is None:
        return []
    if not isinstance(segs, list) or not segs or not all(isinstance(x, dict) for x in segs):
        raise _bad("segments must be a non-empty list of provider objects")
    if any(v.get(k) is not None for k in PROVIDER.values()):
        raise _bad("Segments and provider values cannot both be set")
    out = []
    for x in segs:
        unknown = sorted(set(x) - set(PROVIDER))
        if unknown:
            raise _bad(f"Unrecognized attribute(s) '{', '.join(unknown)}' in segments")
        seg = x.get("provider:segmentation_id")
        if seg is not None and (isinstance(seg, bool) or not isinstance(seg, int)):
            raise _bad(f"Invalid segmentation_id '{seg}'")
        out.append({PROVIDER[k]: val for k, val in x.items() if val is not None})
    v.update(out[0])
    return out[1:]


def add(s: Session, net: m.Network, v: dict[str, Any], name: str | None = None,
        description: str = "") -> m.Segment:
    index = s.scalar(select(func.max(m.Segment.segment_index)).where(m.Segment.network_id == net.id))
    seg = m.Segment(id=str(uuid.uuid4()), network_id=net.id,
                    segment_index=0 if index is None else index + 1, name=name,
                    description=description or "", network_type=v.get("network_type") or "local",
                    physical_network=v.get("physical_network"), segmentation_id=v.get("segmentation_id"))
    s.add(seg)
    s.flush()
    return seg


def of_networks(s: Session, network_ids: list[str]) -> dict[str, list[m.Segment]]:
    out: dict[str, list[m.Segment]] = {i: [] for i in network_ids}
    for seg in s.scalars(select(m.Segment).where(m.Segment.network_id.in_(network_ids))
                         .order_by(m.Segment.segment_index)):
        out[seg.network_id].append(seg)
    return out


def provider_view(seg: m.Segment) -> dict[str, Any]:
    return {"provider:network_type": seg.network_type, "provider:physical_network": seg.physical_network,
            "provider:segmentation_id": seg.segmentation_id}


def check_subnet_segment(s: Session, network_id: str, segment_id: Any) -> None:
    seg = s.get(m.Segment, segment_id) if isinstance(segment_id, str) else None
    if seg is None:
        raise ne.SegmentNotFound(id=segment_id)
    if seg.network_id != network_id:
        raise _bad(f"Segment {segment_id} is not on network {network_id}")


# ------------------------------------------------------------------ /v2.0/segments
def create(s: Session, ctx: Any, v: dict[str, Any]) -> m.Segment:
    from onestack.network import service as svc
    net = s.get(m.Network, v.get("network_id")) if isinstance(v.get("network_id"), str) else None
    if net is None:
        raise ne.NetworkNotFound(id=v.get("network_id"))
    if not v.get("network_type"):
        raise _bad("network_type is required to create a segment")
    prov = {k: v.get(k) for k in ("network_type", "physical_network", "segmentation_id")}
    svc._segmentation(s, prov, net.external)
    return add(s, net, prov, name=v.get("name"), description=v.get("description") or "")


def update(s: Session, ctx: Any, seg: m.Segment, v: dict[str, Any]) -> m.Segment:
    for key, value in v.items():
        setattr(seg, key, value)
    seg.revision_number += 1
    seg.updated_at = utcnow()
    return seg


def delete(s: Session, ctx: Any, seg: m.Segment) -> None:
    if seg.segment_index == 0:
        raise ne.SegmentInUse(id=seg.id, reason="it is the network's first segment (delete the network instead)")
    used = s.scalar(select(func.count()).select_from(m.Subnet).where(m.Subnet.segment_id == seg.id))
    if used:
        raise ne.SegmentInUse(id=seg.id, reason=f"{used} subnet(s) are associated with it")
    s.delete(seg)
