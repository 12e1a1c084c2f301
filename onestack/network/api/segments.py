"""/v2.0/segments (the segment extension; admin-only as upstream)."""
from __future__ import annotations

from typing import Any

from onestack.api.resource import Field as F
from onestack.api.resource import Resource
from onestack.api.routing import Req
from onestack.network import errors as ne
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import segments
from onestack.network.api.common import API, ts

SEGMENT = Resource("segment", "segments", [
    F("id", filter=True, sort=True),
    F("network_id", create=True, required=True, filter=True, sort=True),
    F("name", create=True, update=True, nullable=True, filter=True, sort=True, max_length=255),
    F("description", create=True, update=True, nullable=True, filter=True, sort=True, max_length=255,
      parse=lambda v: v or ""),
    F("network_type", create=True, required=True, filter=True, sort=True, max_length=32),
    F("physical_network", create=True, nullable=True, filter=True, sort=True, max_length=64),
    F("segmentation_id", type=int, create=True, nullable=True, filter=True, sort=True),
    F("revision_number", type=int, filter=True, sort=True),
    F("created_at", render=ts("created_at"), sort=True),
    F("updated_at", render=ts("updated_at"), sort=True),
])


def _create(s: Any, ctx: Any, v: dict, req: Req) -> m.Segment:
    return segments.create(s, ctx, v)


def _update(s: Any, ctx: Any, row: m.Segment, v: dict, req: Req) -> m.Segment:
    return segments.update(s, ctx, row, v)


SEGMENTS = API(q.Kind("segment", "segments", m.Segment, ne.SegmentNotFound, visibility="all"), SEGMENT,
               create=_create, update=_update, delete=lambda s, ctx, row: segments.delete(s, ctx, row))
