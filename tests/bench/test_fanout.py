"""The fan-out benchmark end to end at small scale: its own database, two `doorstep worker`
processes, a local SMTP sink and a local webhook sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fanout


@pytest.mark.postgres
def test_every_owner_gets_one_email_and_one_webhook(postgres_url: str, tmp_path: Path) -> None:
    results = fanout.run(url=postgres_url, owners=40, workers=2, rounds=2, data_dir=tmp_path)

    assert [r["owners_asked"] for r in results["rounds"]] == [40, 40]
    for r in results["rounds"]:
        assert r["emails"] == 40 and r["webhooks"] == 40
        assert r["queued_s"] > 0 and r["deliveries_per_s"] > 0
    check = results["check"]
    # Each owner's address got mail, each webhook job arrived once (two rounds: 80 each).
    assert check["distinct_email_recipients"] == 40
    assert check["distinct_webhook_deliveries"] == 80
    assert check["jobs"] == {
        "footage.notice:done": 80,
        "notify.email:done": 80,
        "notify.webhook:done": 80,
        "feed.post_published:done": 2,
    }
    assert "goal queued < 1 s" in fanout.summary(results)


@pytest.mark.postgres
def test_a_baseline_delivers_the_same_request_first_in_each_round(
    postgres_url: str, tmp_path: Path
) -> None:
    # This tree's own src as the "other" doorstep: the run's shape, not a real contest.
    source = Path(fanout.__file__).resolve().parent.parent / "src"
    results = fanout.run(
        url=postgres_url, owners=20, workers=1, rounds=1, data_dir=tmp_path, baseline_src=source
    )

    [base], [new] = results["baseline_rounds"], results["rounds"]
    assert base["emails"] == new["emails"] == 20 and base["webhooks"] == new["webhooks"] == 20
    ratio = results["delivery_vs_baseline"]
    assert ratio["min"] == ratio["median"] == ratio["max"] > 0
    assert results["check"]["jobs"]["notify.email:done"] == 40
    assert "against the baseline" in fanout.summary(results)
