"""Time zones: storage stays UTC; people read and type times in their own zone.

A viewer's zone is his preference (``users.time_zone``), else his browser's (the
``doorstep_tz`` cookie ``doorstep.js`` sets from ``Intl``), else the instance's
(``DOORSTEP_TIME_ZONE``, UTC by default). Public pages (the transparency portal, the
request log) use the instance's zone alone, so that everyone reads the same record.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from doorstep.errors import InvalidInput

BROWSER_COOKIE = "doorstep_tz"
MAX_NAME = 64


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows (from the ``tzdata`` package), sorted."""
    return tuple(sorted(available_timezones()))


def zone_named(name: str | None) -> ZoneInfo | None:
    """The zone called ``name``, or None when there is none by that name."""
    if not name or len(name) > MAX_NAME or name not in zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def checked_name(name: str) -> str:
    """``name`` when it is a zone (400 ``invalid_time_zone`` otherwise)."""
    if zone_named(name) is None:
        raise InvalidInput(
            "Choose a time zone from the list (an IANA name such as America/New_York).",
            code="invalid_time_zone",
        )
    return name


def viewer_zone(preference: str | None, browser: str | None, instance: str) -> ZoneInfo:
    """The zone a person reads times in (see the module's docstring)."""
    return zone_named(preference) or zone_named(browser) or zone_named(instance) or ZoneInfo("UTC")


def shown(moment: datetime, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """``moment`` in ``zone``, formatted; a "UTC" in ``fmt`` names the zone instead."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime(fmt.replace("UTC", "%Z"))


def from_local(value: datetime, zone: tzinfo) -> datetime:
    """A time typed in ``zone`` (no offset given) as UTC; one with an offset keeps it. In
    the hour a clock goes back, the first of the two readings is taken."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone, fold=0)
    return value.astimezone(UTC)


def local_input(moment: datetime | None, zone: tzinfo) -> str:
    """A stored time as a ``datetime-local`` input shows it in ``zone``."""
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
