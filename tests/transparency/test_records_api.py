"""The accountability datasets' JSON API: public reads of datasets, releases, figures
and the per-agency CSV; admin-only review, linking, identifiers and withdrawal; every
refusal a 4xx JSON error with a code and a message, changing nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import make_person
from tests.transparency import wapo_sample as wapo
from tests.transparency.portal import make_public_agency
from tests.transparency.records_support import KIND, load_dataset, partner_since
from tests.transparency.records_support import agencies as agencies
from tests.transparency.wapo_sample import partners as partners

from doorstep.accounts.models import Role
from doorstep.runtime import Runtime
from doorstep.transparency import records

BASE = "/api/v1/transparency"


def _refused(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code and body["message"], body


def _partner(data: dict[str, Any], agency: Any) -> dict[str, Any]:
    return next(p for p in data["figures"]["partners"] if p["agency_id"] == str(agency.id))


def test_public_reads(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    sha = load_dataset(runtime, tmp_path)
    partner_since(runtime, agencies["springfield"], 5)
    (dataset,) = client.get(f"{BASE}/datasets").json()
    (release,) = dataset["releases"]
    assert (dataset["kind"], release["sha256"], release["source"]) == (KIND, sha, "uof.csv")
    assert release["source_url"] == "https://example.org/uof.csv"
    assert (release["released_on"], release["rows_read"], release["rows_added"]) == (
        "2026-11-01", 10, 10,
    )  # fmt: skip
    assert release["withdrawn_at"] is None
    assert client.get(f"{BASE}/releases").json() == [release]

    data = client.get(f"{BASE}/datasets/{KIND}").json()
    # Springfield: rows 1, 2 (recent) and 3 (ten years ago, before its partnership).
    springfield = _partner(data, agencies["springfield"])
    assert (springfield["before"], springfield["during"], springfield["after"]) == (1, 2, 0)
    assert sum(y["during"] for y in springfield["per_year"].values()) == 2
    assert data["figures"]["incidents"] == 9 and data["figures"]["incidents_undated"] == 1
    assert any("Shelbyville" in w for w in data["figures"]["warnings"])

    r = client.get(f"{BASE}/datasets/{KIND}/agencies.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = next(
        row for row in rows
        if row["agency_id"] == str(agencies["springfield"].id) and row["year"] == "all"
    )  # fmt: skip
    assert (total["before"], total["during"], total["total"]) == ("1", "2", "3")

    _refused(client.get(f"{BASE}/datasets/other-kind"), 404, "dataset_not_found")
    _refused(client.get(f"{BASE}/datasets/Bad Kind!"), 400, "invalid_kind")


def test_review_and_link_are_admin_only_and_refusals_change_nothing(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    admin = make_person(runtime, role=Role.admin)
    resident = make_person(runtime)
    ohio = make_public_agency(runtime, name="Springfield Township Police", state="OH")
    assert client.get(f"{BASE}/review").status_code == 401
    _refused(client.get(f"{BASE}/review", headers=resident.headers), 403, "admin_only")
    before = client.get(f"{BASE}/review", headers=admin.headers).json()
    names = {(g["name"], g["state"]): g for g in before["names"]}
    assert names[("Springfield PD", "OH")]["rows"] == 1
    (suggestion,) = names[("Springfield PD", "OH")]["suggestions"]
    assert suggestion["agency_id"] == str(ohio.id) and suggestion["score"] > 50
    assert [d["date"] for d in before["dates"]] == ["not a date"]

    link = {"name": "Springfield PD", "state": "OH", "agency_id": str(ohio.id)}
    _refused(client.post(f"{BASE}/review/links", json=link, headers=resident.headers), 403,
             "admin_only")  # fmt: skip
    wrong = {**link, "state": "PA"}
    _refused(client.post(f"{BASE}/review/links", json=wrong, headers=admin.headers), 400,
             "state_mismatch")  # fmt: skip
    pending = {**link, "agency_id": str(agencies["ogdenville"].id), "state": "PA"}
    _refused(client.post(f"{BASE}/review/links", json=pending, headers=admin.headers), 400,
             "agency_not_partner")  # fmt: skip
    r = client.post(f"{BASE}/review/links", json={**link, "name": ""}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert client.get(f"{BASE}/review", headers=admin.headers).json() == before
    assert client.get(f"/api/v1/agencies/{ohio.id}/identifiers").json() == []

    r = client.post(f"{BASE}/review/links", json=link, headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"rows_matched": 1}
    after = client.get(f"{BASE}/review", headers=admin.headers).json()
    assert ("Springfield PD", "OH") not in {(g["name"], g["state"]) for g in after["names"]}
    (alias,) = client.get(f"/api/v1/agencies/{ohio.id}/identifiers").json()
    assert (alias["scheme"], alias["value"]) == ("alias", "Springfield PD")
    assert _partner(client.get(f"{BASE}/datasets/{KIND}").json(), ohio)["before"] == 1


def test_identifiers_add_and_remove(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    admin, resident = make_person(runtime, role=Role.admin), make_person(runtime)
    capital = make_public_agency(runtime, name="Capital Police Department")
    path = f"/api/v1/agencies/{capital.id}/identifiers"
    body = {"scheme": "alias", "value": "Capital City Police"}
    _refused(client.post(path, json=body, headers=resident.headers), 403, "admin_only")
    _refused(client.post(path, json={**body, "scheme": "fbi"}, headers=admin.headers), 400,
             "invalid_scheme")  # fmt: skip
    assert client.get(path).json() == []
    r = client.post(path, json=body, headers=admin.headers)
    assert r.status_code == 201 and r.json() == {"rows_matched": 1}
    code = client.post(path, json={"scheme": "ori", "value": "pa 0000"}, headers=admin.headers)
    assert code.status_code == 201
    other = f"/api/v1/agencies/{agencies['springfield'].id}/identifiers"
    _refused(client.post(other, json={"scheme": "ori", "value": "PA0000"}, headers=admin.headers),
             409, "identifier_taken")  # fmt: skip
    listed = {i["value"]: i for i in client.get(path).json()}
    assert set(listed) == {"Capital City Police", "PA0000"}
    assert _partner(client.get(f"{BASE}/datasets/{KIND}").json(), capital)["before"] == 1

    alias_id = listed["Capital City Police"]["id"]
    assert client.delete(f"{path}/{alias_id}", headers=resident.headers).status_code == 403
    assert client.delete(f"{path}/{alias_id}", headers=admin.headers).status_code == 204
    _refused(client.delete(f"{path}/{alias_id}", headers=admin.headers), 404,
             "identifier_not_found")  # fmt: skip
    # The row it matched is back in the review.
    assert _partner(client.get(f"{BASE}/datasets/{KIND}").json(), capital)["before"] == 0
    review = client.get(f"{BASE}/review", headers=admin.headers).json()
    assert ("Capital City Police", "PA") in {(g["name"], g["state"]) for g in review["names"]}


def test_withdraw_a_release(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    admin, resident = make_person(runtime, role=Role.admin), make_person(runtime)
    (release,) = client.get(f"{BASE}/releases").json()
    path = f"{BASE}/releases/{release['id']}/withdraw"
    _refused(client.post(path, json={"reason": "x"}, headers=resident.headers), 403, "admin_only")
    assert client.post(path, json={"reason": ""}, headers=admin.headers).status_code == 422
    assert client.get(f"{BASE}/releases").json() == [release]
    r = client.post(path, json={"reason": "Wrong file"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["withdrawn_reason"] == "Wrong file"
    _refused(client.post(path, json={"reason": "again"}, headers=admin.headers), 409,
             "already_withdrawn")  # fmt: skip
    (public_release,) = client.get(f"{BASE}/datasets").json()[0]["releases"]
    assert public_release["withdrawn_at"] and public_release["withdrawn_reason"] == "Wrong file"
    figures = client.get(f"{BASE}/datasets/{KIND}").json()["figures"]
    assert figures["incidents"] == 0 and figures["incidents_with_partner"] == 0
    missing = f"{BASE}/releases/00000000-0000-0000-0000-000000000000/withdraw"
    _refused(client.post(missing, json={"reason": "x"}, headers=admin.headers), 404,
             "release_not_found")  # fmt: skip


def test_an_analysis_made_out_of_date_is_not_shown(
    client: TestClient, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path
) -> None:
    load_dataset(runtime, tmp_path)
    with runtime.db.transaction() as session:
        records.analyze(session=session, kind=KIND, since_years=5)
    springfield = f"/api/v1/transparency/agencies/{agencies['springfield'].id}"
    figures = client.get(springfield).json()
    assert [f["incidents"] for f in figures["accountability"]] == [2]
    assert [(d["kind"], d["total"]) for d in figures["datasets"]] == [(KIND, 3)]

    # A new alias changes what matches: the stored analysis no longer says what is so;
    # the per-dataset row, computed from the stored incidents, stays.
    admin = make_person(runtime, role=Role.admin)
    path = f"/api/v1/agencies/{agencies['smith'].id}/identifiers"
    r = client.post(path, json={"scheme": "alias", "value": "Smith SO"}, headers=admin.headers)
    assert r.status_code == 201
    figures = client.get(springfield).json()
    assert figures["accountability"] == []
    assert [(d["kind"], d["total"]) for d in figures["datasets"]] == [(KIND, 3)]
    assert (
        "No analysis since"
        in client.get(f"/transparency/agencies/{agencies['springfield'].id}").text
    )


def test_post_sample_through_the_api_equals_an_independent_count(
    client: TestClient,
    runtime: Runtime,
    partners: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Post's real sample: names linked and codes added through the API give the
    figures recomputed from the raw files, partner by partner; the page shows them."""
    wapo.import_sample(runtime, monkeypatch, wapo.INCIDENTS)
    admin = make_person(runtime, role=Role.admin)
    link = {"name": "New York Police Department", "state": "NY",
            "agency_id": str(partners["nyc"].id)}  # fmt: skip
    assert client.post(f"{BASE}/review/links", json=link, headers=admin.headers).status_code == 200
    for key, scheme, value in (("pdx", "wapo", "618"), ("columbus_oh", "ori", "OHCOP00")):
        r = client.post(
            f"/api/v1/agencies/{partners[key].id}/identifiers",
            json={"scheme": scheme, "value": value},
            headers=admin.headers,
        )
        assert r.status_code == 201 and r.json()["rows_matched"] > 0, r.text
    data = client.get(f"{BASE}/datasets/{wapo.KIND}").json()
    wapo.assert_equal(data, partners, wapo.INCIDENTS)
    nyc = _partner(data, partners["nyc"])
    page = client.get(f"/transparency/datasets/{wapo.KIND}").text
    row = page.split(f'data-agency-id="{partners["nyc"].id}"', 1)[1].split("</tr>", 1)[0]
    assert f'data-label="Total" class="num">{nyc["total"]}<' in row and nyc["total"] > 0
