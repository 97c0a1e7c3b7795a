"""Fixtures for the notify tests."""

from __future__ import annotations

import pytest

from doorstep.runtime import Runtime


@pytest.fixture
def local_webhooks(runtime: Runtime) -> Runtime:
    """The runtime, allowing webhooks to the tests' own receivers: plain http on 127.0.0.1.

    Refused by default (a webhook to the server's own loopback is request forgery);
    an operator allows an on-premises receiver the same way.
    """
    runtime.settings.webhook_allow_http = True
    runtime.settings.webhook_allowed_networks = ["127.0.0.1"]
    return runtime
