"""The middleware benchmark runs every middleware in turn and reports each one's cost."""

from __future__ import annotations

from bench import middleware


def test_every_middleware_is_measured_in_every_round() -> None:
    results = middleware.run(requests=50, rounds=3)
    assert len(results["rounds"]) == 3
    names = {"bare_app_us", *middleware.MIDDLEWARES}
    assert all(set(r) == names for r in results["rounds"])
    spread = results["us_per_request"]
    assert set(spread) == names
    assert all(s["min"] <= s["median"] <= s["max"] for s in spread.values())
    assert spread["bare_app_us"]["min"] > 0
    assert "request_ids" in middleware.summary(results)
