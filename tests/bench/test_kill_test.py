"""The kill test at tiny scale: a worker gets SIGKILL in the middle of a fan-out, a second
worker finishes, and nothing is lost or doubled beyond what the delivery key dedupes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import kill_test


@pytest.mark.postgres
def test_a_killed_worker_loses_no_notice(postgres_url: str, tmp_path: Path) -> None:
    # A slow webhook receiver (100 ms an answer) keeps deliveries in flight at the kill:
    # with a worker's 8 send lanes the 40 take about 0.5 s, so a test process that gets
    # no CPU for a while (a loaded machine) still kills the worker before the last ones.
    results = kill_test.run(
        url=postgres_url, owners=40, kill_at=0.3, lease_s=2, sink_delay_s=0.1, data_dir=tmp_path
    )

    at_kill = results["at_kill"]
    # killed in the middle: some webhooks arrived, not all, and jobs were left leased
    assert 0 < at_kill["webhook_keys"] < 40
    assert results["finished"] is True
    assert results["lost"] == {"in_app": 0, "email": 0, "webhook": 0}
    duplicates = results["duplicates"]
    assert duplicates["webhooks_without_key"] == 0
    assert duplicates["doubled_emails"] == 0 and duplicates["doubled_in_app"] == 0
    # every repeated arrival carried a key the receiver had already seen
    sinks = results["sinks"]
    assert sinks["webhooks"] == sinks["webhook_keys"] + duplicates["webhooks_deduplicated_by_key"]
    assert results["jobs"] == {
        "footage.notice:done": 40,
        "notify.email:done": 40,
        "notify.webhook:done": 40,
        "feed.post_published:done": 1,
    }
    assert results["ok"] is True
    written = json.loads(kill_test.write_results(results, tmp_path).read_text())
    assert written["lost"]["webhook"] == 0
    assert "requirement (0 lost, every duplicate keyed): met" in kill_test.summary(results)
