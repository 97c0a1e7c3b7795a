"""Every outbox handler and periodic task, imported once by the worker."""

from __future__ import annotations

from doorstep.agencies import jobs as agency_jobs
from doorstep.cameras import deletion as camera_deletion
from doorstep.config import Settings
from doorstep.feed import jobs as feed_jobs
from doorstep.footage import jobs as footage_jobs
from doorstep.notify import jobs as notify_jobs
from doorstep.notify.worker import PeriodicTask
from doorstep.runtime import Runtime
from doorstep.transparency import digests as transparency_digests

__all__ = ["agency_jobs", "feed_jobs", "footage_jobs", "notify_jobs", "periodic_tasks"]


def _sweep_retention(runtime: Runtime) -> int:
    total = 0
    while True:
        with runtime.db.transaction() as session:
            n = camera_deletion.sweep_retention(session=session, storage=runtime.storage)
        total += n
        if n == 0:
            return total


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    return [
        PeriodicTask("retention", settings.retention_sweep_s, _sweep_retention),
        PeriodicTask("evidence_retention", settings.retention_sweep_s, footage_jobs.sweep_evidence),
        PeriodicTask("close_requests", 300, footage_jobs.close_expired),
        PeriodicTask("reminders", 300, footage_jobs.queue_reminders),
        PeriodicTask("audit_daily_head", 3600, transparency_digests.publish_daily_head),
    ]
