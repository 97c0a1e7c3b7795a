"""The product's job registry: every outbox job kind with its handler, and every periodic
task. The entry points that run a worker (``doorstep worker``, the in-process worker)
build it here and hand it to ``notify.worker.Worker``, which imports no domain."""

from __future__ import annotations

from doorstep import telemetry
from doorstep.agencies import jobs as agency_jobs
from doorstep.agencies import service as agency_service
from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras import event_alerts as camera_event_alerts
from doorstep.cameras import partitions as event_partitions
from doorstep.config import Settings
from doorstep.feed import alerts as feed_alerts
from doorstep.feed import clip_copies as feed_clip_copies
from doorstep.feed import jobs as feed_jobs
from doorstep.feed import service as feed_service
from doorstep.footage import jobs as footage_jobs
from doorstep.footage import lifecycle as footage_lifecycle
from doorstep.footage import previews as footage_previews
from doorstep.footage import redaction as footage_redaction
from doorstep.notify.channels.registry import CHANNELS
from doorstep.notify.handlers import JobRegistry
from doorstep.runtime import Runtime
from doorstep.transparency import digests as transparency_digests

__all__ = ["job_registry"]


def job_registry(settings: Settings, *, periodic: bool = True) -> JobRegistry:
    """Every job kind and, unless ``periodic`` is False (tests that drain the outbox
    alone), every periodic task at the interval ``settings`` give it."""
    jobs = JobRegistry()
    for channel in CHANNELS:
        jobs.add(channel.kind, channel.deliver)
        if channel.deliver_many is not None:
            jobs.add_batch(channel.kind, channel.deliver_many)
    jobs.add(camera_event_alerts.EVENT_ALERT_JOB, camera_event_alerts.run_event_alert)
    jobs.add(agency_service.INVITATION_JOB, agency_jobs.send_invitation)
    jobs.add(feed_service.POST_PUBLISHED_JOB, feed_jobs.fan_out_post)
    jobs.add(feed_alerts.DIGEST_JOB, feed_jobs.send_digest)
    jobs.add_long(feed_clip_copies.COPY_JOB, feed_clip_copies.make_copy)
    jobs.add(feed_clip_copies.DELETE_JOB, feed_clip_copies.delete_copy)
    jobs.add(footage_lifecycle.NOTICE_JOB, footage_jobs.NOTICES.one)
    jobs.add_batch(footage_lifecycle.NOTICE_JOB, footage_jobs.NOTICES.many)
    jobs.add(footage_jobs.REMINDER_JOB, footage_jobs.REMINDERS.one)
    jobs.add_batch(footage_jobs.REMINDER_JOB, footage_jobs.REMINDERS.many)
    jobs.add_long(footage_redaction.REDACTION_JOB, footage_redaction.run_redaction)
    jobs.add_long(footage_previews.PREVIEW_JOB, footage_previews.run_preview)
    if periodic:
        jobs.every("retention", settings.retention_sweep_s, _sweep_retention)
        jobs.every("evidence_retention", settings.retention_sweep_s, footage_jobs.sweep_evidence)
        jobs.every("close_requests", 300, footage_jobs.close_expired)
        jobs.every("reminders", 300, footage_jobs.queue_reminders)
        jobs.every("feed_clip_copies", 300, _sweep_clip_copies)
        jobs.every("audit_daily_head", 3600, transparency_digests.publish_daily_head)
        jobs.every("event_partitions", settings.event_partitions_check_s, _ensure_event_partitions)
    return jobs


def _sweep_retention(runtime: Runtime) -> int:
    """Delete every clip past its camera's retention, a batch a transaction; the sweep's
    progress is counted for ``/metrics`` as it goes."""
    total = 0
    telemetry.SWEEP_RUNNING.set(1)
    try:
        while True:
            with runtime.db.transaction() as session:
                n = camera_deletion.sweep_retention(session=session, storage=runtime.storage)
            telemetry.SWEEP_CLIPS_DELETED.inc(n)
            total += n
            if n == 0:
                telemetry.SWEEP_LAST_FINISHED.set_to_current_time()
                return total
    finally:
        telemetry.SWEEP_RUNNING.set(0)


def _ensure_event_partitions(runtime: Runtime) -> int:
    """Create the coming months' motion-event partitions, and the months of any event in
    the default partition (PostgreSQL); how many were new."""
    with runtime.db.transaction() as session:
        created = event_partitions.ensure_months_ahead(
            session=session, months_ahead=runtime.settings.event_partitions_ahead_months
        )
        created += event_partitions.empty_default(session=session)
    return len(created)


def _sweep_clip_copies(runtime: Runtime) -> int:
    """Queue the deletion of the feed's clip copies whose clip is gone."""
    with runtime.db.transaction() as session:
        return feed_clip_copies.sweep_orphans(session=session)
