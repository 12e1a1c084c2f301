"""Start-up recovery: no task stays RUNNING for an owner that is gone.

A task is orphaned when it is RUNNING and its owner is this host with another pid (that
process died) or its heartbeat is older than ``stale_after`` (another host died).
Resumable tasks go back to PENDING at the step they were on (steps are idempotent);
the others fail and run their cleanup.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import or_, select

from onestack import db
from onestack.db.base import utcnow
from onestack.tasks import engine as eng
from onestack.tasks.models import PENDING, RUNNING, Task

log = logging.getLogger(__name__)


def recover(stale_after: float = 60.0) -> dict[str, int]:
    me = socket.gethostname()
    cutoff = utcnow() - dt.timedelta(seconds=stale_after)
    resumed = failed = 0
    with db.write() as s:
        rows = s.scalars(select(Task).where(Task.state == RUNNING, or_(
            Task.owner.like(f"{me}:%"), Task.heartbeat_at < cutoff, Task.heartbeat_at.is_(None)))).all()
        orphans = [t for t in rows if t.owner != eng.ENGINE.owner and not (
            t.owner and t.owner.startswith(f"{me}:{os.getpid()}:"))]
        to_fail = []
        for t in orphans:
            spec = eng.spec_for(t.kind)
            if spec is not None and spec.resumable:
                t.state, t.owner = PENDING, None
                resumed += 1
            else:
                to_fail.append(eng.TaskRun(t.id, t.kind, t.resource_type, t.resource_id,
                                           t.project_id, dict(t.payload or {}), t.step, t.attempts))
    for run in to_fail:
        spec = eng.spec_for(run.kind)
        if spec is None:
            eng.ENGINE._finish(run, "FAILED", "no handler registered after restart")
        else:
            eng.ENGINE._fail(spec, run, "interrupted by a restart")
        failed += 1
    if resumed or failed:
        log.info("task recovery: %d resumed, %d failed", resumed, failed)
    return {"resumed": resumed, "failed": failed}
