"""Accessibility (issue 15, item 12): axe-core, from the npm registry (``package.json``;
CI installs it), runs in Chromium on every page for every role, at desktop and phone
widths. No page may have a serious or critical violation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from tests.e2e.site_pages import build_site
from tests.factories import sign_in_browser

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
GRAVE = ("serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))
  }));
}"""


def _audit(page: Page, path: str) -> dict[str, object]:
    answer = page.goto(path)
    assert answer is not None and answer.status < 400, (path, answer and answer.status)
    page.wait_for_load_state("load")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE.read_text())
    found: list[dict[str, object]] = page.evaluate(RUN_AXE)
    width = page.evaluate("document.documentElement.scrollWidth")
    return {"violations": found, "scroll_width": width}


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_has_a_serious_or_critical_violation(
    page: Page, runtime: Runtime, width: int
) -> None:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `npm ci` in the repository root")
    page.set_viewport_size({"width": width, "height": 844})
    site = build_site(runtime)
    results: dict[str, dict[str, Any]] = {}
    for person, paths in site.visits:
        page.context.clear_cookies()
        role = "anonymous"
        if person is not None:
            sign_in_browser(page, person, runtime if person is site.officer else None)
            role = person.user.role.value
        for path in paths:
            results[f"{role} {path}"] = _audit(page, path)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{width}.json").write_text(json.dumps(results, indent=2))
    grave = {
        page_id: [
            f"{v['id']} ({v['impact']}): {v['nodes']}"
            for v in found["violations"]
            if v["impact"] in GRAVE
        ]
        for page_id, found in results.items()
    }
    assert {k: v for k, v in grave.items() if v} == {}
    # No page scrolls sideways, at a phone's width as on a desktop.
    wide = {
        k: found["scroll_width"] for k, found in results.items() if found["scroll_width"] > width
    }
    assert wide == {}
    assert len(results) >= 40
