"""parse_retry_after: the Retry-After hint carried by DeliveryError."""

from __future__ import annotations

import datetime as dt

import pytest

from doorstep.notify.channels import parse_retry_after

NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sun, 29 Nov 2026 12:01:30 GMT", 90.0),
        ("Sun, 29 Nov 2026 11:00:00 GMT", 0.0),  # already past
        (None, None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds
