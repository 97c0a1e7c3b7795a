"""Guardrails against profiling and for personal data: the rules, then the API and the pages
refusing the same posts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from doorstep.errors import InvalidInput
from doorstep.feed.guardrails import (
    PersonDescription,
    check_person_rules,
    describes_by_race,
    find_personal_data,
)
from doorstep.feed.models import Category, Post
from doorstep.runtime import Runtime
from tests.factories import HTML, form_error, make_person, set_home, sign_in

BEHAVIOR = "Tried the handles of three parked cars, then rode off on a bike."


def _code(fn: Any) -> str | None:
    try:
        fn()
    except InvalidInput as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Suspicious black male walking around", True),
        ("White guy in his 20s looking at cars", True),
        ("a Hispanic was seen near the school", True),
        ("tall white young man", True),
        ("man (white) with a hat", True),
        ("Asian woman knocking on doors", True),
        ("A black car and a white van blocked the alley", False),
        ("Our black cat is missing", False),
        ("Someone tried car doors", False),
    ],
)
def test_race_descriptions_are_recognised(text: str, expected: bool) -> None:
    assert describes_by_race(text) is expected


def test_person_rules() -> None:
    def check(category: Category = Category.crime, body: str = "", **person: str) -> str | None:
        description = PersonDescription.from_mapping(person) if person else None
        return _code(
            lambda: check_person_rules(
                category=category, title="Car break-ins", body=body, person=description
            )
        )

    assert check(body="Two cars were broken into overnight.") is None
    # A person described by race alone, in free text or in the form, is refused.
    assert check(body="Suspicious black male in the alley.") == "behavior_required"
    assert check(body="Suspicious black male in the alley.", behavior=BEHAVIOR) == (
        "description_too_thin"
    )
    assert check(behavior=BEHAVIOR, other="Hispanic") == "description_too_thin"
    assert check(behavior=BEHAVIOR, clothing="black", build="white") == "description_too_thin"
    assert check(behavior=BEHAVIOR, clothing="red hoodie") == "description_too_thin"
    # Behaviour first: an appearance without what the person did is refused.
    assert check(clothing="red hoodie", hair="short grey") == "behavior_required"
    assert check(behavior="walking", clothing="red hoodie", hair="grey") == "behavior_required"
    # Behaviour and two real details pass, race mentioned or not.
    assert check(behavior=BEHAVIOR, clothing="red hoodie", shoes="white sneakers") is None
    assert (
        check(
            body="White male, see the description.",
            behavior=BEHAVIOR,
            clothing="red hoodie",
            distinguishing_features="limp, backpack with a yellow patch",
        )
        is None
    )
    # Behaviour alone (no appearance) is fine.
    assert check(behavior=BEHAVIOR) is None
    # A lost-pet post mentioning a "black lab" is not about a person.
    assert check(Category.lost_found_pet, body="Lost: black lab, answers to Max.") is None


def test_personal_data_is_found() -> None:
    kinds = {
        text: sorted({f.kind for f in find_personal_data(text)})
        for text in (
            "Call me at 215-555-0142",
            "It happened at 1234 Main St. last night",
            "The car had plate ABC1234",
            "A silver sedan, JKL-4821, drove off",
            "Two guys came down the street at 10:30 on 2026-11-29",
            "Took 3 of them way too long",
        )
    }
    assert kinds == {
        "Call me at 215-555-0142": ["phone_number"],
        "It happened at 1234 Main St. last night": ["street_address"],
        "The car had plate ABC1234": ["license_plate"],
        "A silver sedan, JKL-4821, drove off": ["license_plate"],
        "Two guys came down the street at 10:30 on 2026-11-29": [],
        "Took 3 of them way too long": [],
    }


def _api_post(client: TestClient, who: Any, **body: Any) -> Any:
    payload: dict[str, Any] = {"category": "crime", "title": "Car break-ins", "body": "Overnight."}
    payload.update(body)
    return client.post("/api/v1/posts", headers=who.headers, json=payload)


def test_api_refuses_profiling_and_warns_about_personal_data(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    r = _api_post(client, person, body="Suspicious black male checking cars.")
    assert r.status_code == 400 and r.json()["error"]["code"] == "behavior_required"
    r = _api_post(
        client,
        person,
        body="Suspicious black male checking cars.",
        person={"behavior": BEHAVIOR, "clothing": "dark"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "description_too_thin"
    r = _api_post(
        client,
        person,
        category="unexpected_activity",
        person={"behavior": "", "other": "Middle Eastern man"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "behavior_required"

    r = _api_post(client, person, body="His plate was ABC1234, call 215-555-0142.")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "personal_data_warning"
    assert {(f["kind"], f["text"]) for f in error["details"]["found"]} == {
        ("license_plate", "ABC1234"),
        ("phone_number", "215-555-0142"),
    }
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0

    r = _api_post(
        client,
        person,
        body="His plate was ABC1234, call 215-555-0142.",
        person={"behavior": BEHAVIOR, "clothing": "red hoodie", "hair": "shaved"},
        confirm_personal_data=True,
    )
    assert r.status_code == 201, r.text
    assert r.json()["person"]["behavior"] == BEHAVIOR

    # An edit passes the same rules.
    r = client.patch(
        f"/api/v1/posts/{r.json()['id']}",
        headers=person.headers,
        json={"person": {"behavior": BEHAVIOR, "other": "white"}},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "description_too_thin"


def _form(csrf: str, **values: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "category": "crime",
        "title": "Car break-ins",
        "body": "Overnight on our block.",
    }
    form.update(values)
    return form


def test_pages_refuse_the_same_posts(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    csrf = sign_in(client, person.user.email)

    page = client.get("/posts/new", headers=HTML)
    assert page.status_code == 200
    # Behaviour is asked first, with the reminder and the guidelines link.
    text = page.text
    assert text.index('name="person_behavior"') < text.index('name="person_clothing"')
    assert "Describe behaviour, not appearance." in text
    assert 'href="/feed/guidelines"' in text
    assert 'name="confirm_personal_data"' not in text

    r = client.post("/posts/new", data=_form(csrf, body="Suspicious black male on our street."))
    assert r.status_code == 400 and form_error(r.text).startswith("Describe what the person did")
    assert "Suspicious black male on our street." in r.text  # what was typed stays
    r = client.post(
        "/posts/new",
        data=_form(csrf, person_behavior=BEHAVIOR, person_other="Black", person_clothing="dark"),
    )
    assert r.status_code == 400 and "more than race or ethnicity" in form_error(r.text)

    r = client.post("/posts/new", data=_form(csrf, body="Call 215-555-0142 if you saw it."))
    assert r.status_code == 400
    assert 'id="personal-data-warning"' in r.text and "215-555-0142" in r.text
    assert 'name="confirm_personal_data"' in r.text
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0
    r = client.post(
        "/posts/new",
        data=_form(csrf, body="Call 215-555-0142 if you saw it.", confirm_personal_data="1"),
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?notice=posted")

    guidelines = client.get("/feed/guidelines", headers=HTML)
    assert guidelines.status_code == 200 and "Describe behaviour, not appearance" in guidelines.text
