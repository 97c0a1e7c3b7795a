"""What a motion event or a clip shows, as a camera or its detector labels it.

A core vocabulary: cameras record events of these kinds, residents choose which kinds
alert them (accounts, notify), and the feed and footage show them. It lives below the
domains so that none of them has to import another to name a kind.
"""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    motion = "motion"
    ding = "ding"
    person = "person"
    vehicle = "vehicle"
    package = "package"
    other = "other"
