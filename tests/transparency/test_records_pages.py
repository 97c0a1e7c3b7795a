"""The accountability pages: the public datasets and one dataset's table, chart and map
(withdrawals shown), the agency page's identifiers and per-dataset figures, and the
admin review page whose buttons link a name, add and remove identifiers and withdraw a
release after a confirmation."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import HTML, csrf_of, form_error, make_person, sign_in
from tests.transparency.portal import make_public_agency
from tests.transparency.records_support import KIND, load_dataset, partner_since
from tests.transparency.records_support import agencies as agencies

from doorstep.accounts.models import Role
from doorstep.audit import AuditRecord
from doorstep.db import utcnow
from doorstep.runtime import Runtime
from doorstep.transparency.report import write_annual_report


def _cell(page: str, agency: Any, label: str) -> str:
    row = re.search(rf'<tr data-agency-id="{agency.id}">(.*?)</tr>', page, re.S)
    assert row, "no row for the agency"
    cell = re.search(rf'data-label="{label}"[^>]*>([^<]*)<', row.group(1))
    assert cell, label
    return cell.group(1)


def test_public_dataset_pages(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    assert "No accountability dataset" in client.get("/transparency/datasets").text
    sha = load_dataset(runtime, tmp_path)
    partner_since(runtime, agencies["springfield"], 5)
    page = client.get("/transparency/datasets").text
    assert f'href="/transparency/datasets/{KIND}"' in page and sha in page

    r = client.get(f"/transparency/datasets/{KIND}")
    assert r.status_code == 200
    page = r.text
    springfield = agencies["springfield"]
    assert [_cell(page, springfield, k) for k in ("Before", "During", "After", "Total")] == [
        "1", "2", "0", "3",
    ]  # fmt: skip
    # Shelbyville matched nothing: a warning says so before anyone quotes a zero.
    assert 'id="coverage-warnings"' in page and "Shelbyville Police Department (PA)" in page
    assert '<svg class="bar-chart"' in page and 'id="dataset-map"' in page
    geojson = re.search(r'id="dataset-map-data">(.*?)</script>', page, re.S)
    assert geojson and str(springfield.id) in geojson.group(1)
    # Shelbyville, without an incident, is not on the map.
    assert str(agencies["shelbyville"].id) not in geojson.group(1)
    assert f"/api/v1/transparency/datasets/{KIND}/agencies.csv" in page
    assert client.get("/transparency/datasets/nothing-here", headers=HTML).status_code == 404

    # The agency page: its row of every dataset, never a stored row count.
    page = client.get(f"/transparency/agencies/{springfield.id}").text
    rows = re.search(r'id="agency-datasets">(.*?)</table>', page, re.S)
    assert rows and KIND in rows.group(1)
    assert re.findall(r'class="num">(\d+)</td>', rows.group(1)) == ["1", "2", "0", "3"]
    assert "No alias or outside code recorded." in page


def test_admin_review_page_links_a_name_and_withdraws_a_release(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    ohio = make_public_agency(runtime, name="Springfield Township Police", state="OH")
    assert client.get("/admin/records", headers=HTML, follow_redirects=False).status_code in (
        303, 401,
    )  # fmt: skip
    admin = make_person(runtime, role=Role.admin)
    sign_in(client, admin, runtime)
    page = client.get("/admin/records", headers=HTML).text
    assert 'data-name="Springfield PD" data-state="OH"' in page
    assert html.escape(f"Link to {ohio.name} (OH)") in page
    token = csrf_of(page)

    link = {"csrf_token": token, "name": "Springfield PD", "state": "PA", "agency_id": str(ohio.id)}
    r = client.post("/admin/records/links", data=link, headers=HTML)
    assert r.status_code == 400 and "not PA" in form_error(r.text)
    r = client.post("/admin/records/links", data={**link, "state": "OH"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/records?notice=linked"
    page = client.get(r.headers["location"], headers=HTML).text
    assert 'data-name="Springfield PD"' not in page and "Springfield PD</li>" not in page
    assert "Springfield PD" in page  # now listed among the identifiers

    # Identifiers: added, then removed.
    r = client.post(
        "/admin/records/identifiers",
        data={"csrf_token": token, "agency_id": str(ohio.id), "scheme": "ori", "value": "oh0001"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    public = client.get(f"/transparency/agencies/{ohio.id}").text
    assert "OH0001" in public and "Springfield PD" in public
    page = client.get("/admin/records", headers=HTML).text
    remove = re.search(r'action="(/admin/records/identifiers/[^"]+/remove)"', page)
    assert remove
    r = client.post(
        remove.group(1), data={"csrf_token": token, "agency_id": str(ohio.id)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303

    # Withdrawal needs its confirmation; then it is public, by the admin.
    action = re.search(r'action="(/admin/records/releases/[^"]+/withdraw)"', page)
    assert action
    r = client.post(action.group(1), data={"csrf_token": token, "reason": "Wrong file"},
                    headers=HTML)  # fmt: skip
    assert r.status_code == 400 and "Tick the confirmation" in form_error(r.text)
    r = client.post(
        action.group(1), data={"csrf_token": token, "reason": "Wrong file", "confirm": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    page = client.get(f"/transparency/datasets/{KIND}").text
    assert "Withdrawn" in page and "Wrong file" in page
    with runtime.db.transaction() as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "accountability.release_withdrawn")
        ).one()
        assert record.is_public and record.actor_id == admin.user.id


def test_annual_report_has_the_partner_table(
    runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    partner_since(runtime, agencies["springfield"], 5)
    year = utcnow().year
    with runtime.db.transaction() as session:
        report = write_annual_report(session=session, year=year, out_dir=tmp_path / "report")
    text = report.markdown.read_text(encoding="utf-8")
    assert f"### {KIND}: incidents of each partner" in text
    assert "| Partner | Partnership | Before | During | After | Total | In " in text
    table = text.split(f"### {KIND}: incidents of each partner", 1)[1]
    line = next(x for x in table.splitlines() if x.startswith("| Springfield Police Department"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:6] == ["1", "2", "0", "3"]
    assert "Shelbyville Police Department (PA) matched no incident" in text
    csv_path = tmp_path / "report" / f"accountability-{KIND}-{year}.csv"
    assert csv_path in report.csv_files and str(agencies["springfield"].id) in csv_path.read_text()
