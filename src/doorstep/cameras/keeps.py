"""An owner keeps a clip past its camera's retention, until he stops keeping it.

The retention sweep (``deletion.sweep_retention``) leaves a kept clip; deleting it by
hand still works. How many clips one owner may keep at once is the instance's maximum
(``Settings.max_kept_clips``), so that keeping cannot grow storage without bound.

Other domains: the owner arrives as an accounts ``User`` (its id and nothing more is
read); no query here reads another domain's table.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.accounts.models import User
from doorstep.cameras.inbox import get_own_clip
from doorstep.cameras.models import Clip
from doorstep.db import utcnow
from doorstep.errors import Conflict


def kept_clip_count(*, session: Session, owner: User) -> int:
    """How many live clips the owner keeps now."""
    count = session.scalar(
        select(func.count())
        .select_from(Clip)
        .where(Clip.owner_id == owner.id, Clip.kept_at.is_not(None), Clip.deleted_at.is_(None))
    )
    return count or 0


def keep_clip(*, session: Session, owner: User, clip_id: uuid.UUID, max_kept: int) -> Clip:
    """Keep one of the owner's clips until he stops keeping it: no retention sweep deletes
    it meanwhile. Keeping a kept clip changes nothing. Refused (409 ``keep_limit_reached``)
    when the owner already keeps ``max_kept`` clips."""
    clip = get_own_clip(session=session, owner=owner, clip_id=clip_id)
    if clip.kept_at is not None:
        return clip
    if kept_clip_count(session=session, owner=owner) >= max_kept:
        raise Conflict(
            f"You keep {max_kept} clips already, the most this instance allows. "
            "Stop keeping one to keep this one.",
            code="keep_limit_reached",
            max_kept=max_kept,
        )
    clip.kept_at = utcnow()
    session.flush()
    return clip


def stop_keeping_clip(*, session: Session, owner: User, clip_id: uuid.UUID) -> Clip:
    """Stop keeping one of the owner's clips: the next retention sweep deletes it if it is
    older than its camera's retention. Stopping for a clip not kept changes nothing."""
    clip = get_own_clip(session=session, owner=owner, clip_id=clip_id)
    clip.kept_at = None
    session.flush()
    return clip
