"""The public transparency portal (no sign-in): agencies, the request log, one agency's
figures, the policy, the audit log; with CSV, GeoJSON and JSON-lines downloads.

Downloads that can grow without bound (the request log, the audit log) stream from
their own read transaction, in batches.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from doorstep import paging, timezones
from doorstep.accounts.deps import CheckedForm, PageAdmin, ReadPage, ThisPage
from doorstep.agencies.models import AgencyType
from doorstep.errors import DoorstepError, InvalidInput, NotFound
from doorstep.footage import policy as policy_service
from doorstep.footage.models import IncidentType
from doorstep.footage.policy import PolicySettings
from doorstep.http import ReadSession, RuntimeDep
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime
from doorstep.transparency import charts, digests, figures, public, request_log, statements
from doorstep.versions import REQUEST_LOG
from doorstep.web import kept
from doorstep.web.forms import text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

PAGE_SIZE = 50
# The last page an offset within paging.MAX_OFFSET can reach.
MAX_PAGE = paging.MAX_OFFSET // PAGE_SIZE + 1
STATUS_LABELS = {"verified": "Active", "suspended": "Suspended", "ended": "Ended"}
TYPE_LABELS = {t.value: t.value.replace("_", " ").capitalize() for t in AgencyType}
INCIDENT_LABELS = {t.value: t.value.replace("_", " ").capitalize() for t in IncidentType}
SORT_LABELS = {
    "activated": "Sent",
    "agency": "Agency",
    "case": "Case",
    "incident": "Incident",
    "window": "Window",
    "asked": "Asked",
    "shared": "Shared",
    "declined": "Declined",
}
NOTICES = {"statement_saved": "The statement was saved and the change published."}


def _instance_zone(page: Page) -> Any:
    """The portal shows times in the instance's zone: everyone reads the same record."""
    return timezones.viewer_zone(None, None, page.request.app.state.runtime.settings.time_zone)


def _portal_page(page: Page, name: str, /, **context: Any) -> Response:
    return page.show(
        name,
        time_zone=_instance_zone(page),
        status_labels=STATUS_LABELS,
        type_labels=TYPE_LABELS,
        incident_labels=INCIDENT_LABELS,
        notice=page.notice(NOTICES),
        **context,
    )


def _csv_text(header: list[str], rows: Iterator[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _download(body: Iterator[str] | str, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if isinstance(body, str):
        return Response(body, media_type=media_type, headers=headers)
    return StreamingResponse(body, media_type=media_type, headers=headers)


# ---------------------------------------------------------------- overview


@router.get("/transparency", response_class=HTMLResponse)
def overview(page: ReadPage) -> Response:
    session = page.session
    agencies = public.participating_agencies(session=session)
    total, latest = request_log.log_page(session=session, limit=5)
    agencies_monthly = public.active_per_month(session=session, agencies=agencies)
    requests_monthly = request_log.requests_per_month(session=session)
    return _portal_page(
        page,
        "transparency/overview.html",
        active=sum(1 for a in agencies if a.status.value == "verified"),
        ever=len(agencies),
        requests_total=total,
        latest=latest,
        head=digests.current_head(session=session),
        heads=digests.heads_up_to_date(session=session, limit=3),
        geojson=public.agencies_geojson(agencies),
        agencies_chart=charts.bar_chart(agencies_monthly, label="Agencies taking part, per month"),
        monthly_rows=_monthly_rows(agencies_monthly, requests_monthly),
        requests_chart=charts.bar_chart(requests_monthly, label="Requests sent, per month"),
    )


def _monthly_rows(agencies: list[Any], requests: list[Any]) -> list[tuple[str, int, int]]:
    """(month, agencies taking part, requests sent) for every month either counts."""
    by_month = {m.month: [m.count, 0] for m in agencies}
    for m in requests:
        by_month.setdefault(m.month, [0, 0])[1] = m.count
    return [(month, a, r) for month, (a, r) in sorted(by_month.items())]


# ---------------------------------------------------------------- agencies


def _agency_filters(request: Request) -> tuple[str, str, Any]:
    state = request.query_params.get("state", "").strip().upper()
    status = request.query_params.get("status", "").strip()
    return state, status, public.parse_status(status)


@router.get("/transparency/agencies", response_class=HTMLResponse)
def agencies_page(page: ReadPage) -> Response:
    session = page.session
    state, status, parsed = "", "", None
    try:
        state, status, parsed = _agency_filters(page.request)
    except DoorstepError as exc:
        page = page.refused(exc)
    agencies = public.participating_agencies(session=session, state=state, status=parsed)
    everyone = public.participating_agencies(session=session)
    monthly = public.active_per_month(session=session, agencies=everyone)
    query = urlencode([(k, v) for k, v in (("state", state), ("status", status)) if v])
    return page.show(
        "transparency/agencies.html",
        time_zone=_instance_zone(page),
        agencies=[public.public_agency(a) for a in agencies],
        geojson=public.agencies_geojson(agencies),
        states=public.agency_states(session=session),
        state=state,
        status=status,
        query=query,
        monthly=monthly,
        chart=charts.bar_chart(monthly, label="Agencies taking part, per month"),
        status_labels=STATUS_LABELS,
        type_labels=TYPE_LABELS,
    )


@router.get("/transparency/agencies.csv")
def agencies_csv(request: Request, session: ReadSession) -> Response:
    state, _status, parsed = _agency_filters(request)
    rows = [
        public.agency_row(public.public_agency(a))
        for a in public.participating_agencies(session=session, state=state, status=parsed)
    ]
    return _download(
        "".join(_csv_text(public.AGENCY_COLUMNS, iter(rows))), "text/csv", "agencies.csv"
    )


@router.get("/transparency/agencies.geojson")
def agencies_geojson(request: Request, session: ReadSession) -> Response:
    state, _status, parsed = _agency_filters(request)
    agencies = public.participating_agencies(session=session, state=state, status=parsed)
    return _download(
        json.dumps(public.agencies_geojson(agencies)), "application/geo+json", "agencies.geojson"
    )


def _agency_or_404(session: Session, agency_id: uuid.UUID) -> Any:
    agency = public.get_participating_agency(session=session, agency_id=agency_id)
    if agency is None:
        raise NotFound("No agency with this id ever took part.", code="agency_not_found")
    return agency


def _agency_page(
    page: Page, agency_id: uuid.UUID, *, form: dict[str, str] | None = None
) -> Response:
    session = page.session
    agency = _agency_or_404(session, agency_id)
    requests = figures.agency_requests(session=session, agency_id=agency.id)
    data = figures.agency_figures(session=session, agency=agency, requests=requests)
    statement = data.statement
    return _portal_page(
        page,
        "transparency/agency.html",
        figures=data,
        jurisdiction=agency.jurisdiction,
        requests=sorted(requests, key=lambda r: r.activated_at, reverse=True),
        chart=charts.bar_chart(data.monthly_requests, label=f"Requests per month: {agency.name}"),
        history=policy_service.history(session=session, agency_id=agency.id),
        form=form
        or {
            "acceptable_use": statement.acceptable_use,
            "prohibited_uses": "\n".join(statement.prohibited_uses),
        },
    )


@router.get("/transparency/agencies/{agency_id}", response_class=HTMLResponse)
def agency_page(agency_id: uuid.UUID, page: ReadPage) -> Response:
    return _agency_page(page, agency_id)


@router.post("/transparency/agencies/{agency_id}/statement", response_class=HTMLResponse)
def save_statement(
    agency_id: uuid.UUID, page: ThisPage, user: PageAdmin, form: CheckedForm
) -> Response:
    values = {
        "acceptable_use": text(form.get("acceptable_use")),
        "prohibited_uses": text(form.get("prohibited_uses")),
        "reason": text(form.get("reason")),
    }
    return page.act(
        lambda: statements.set_statement(
            session=page.session,
            actor=user,
            agency_id=agency_id,
            acceptable_use=values["acceptable_use"],
            prohibited_uses=values["prohibited_uses"].splitlines(),
            reason=values["reason"],
        ),
        done=lambda _: redirect(
            f"/transparency/agencies/{agency_id}?notice=statement_saved#statement"
        ),
        refused=page.refusal(_agency_page, agency_id, form=values),
        passes=(404,),
    )


# ---------------------------------------------------------------- the request log


def _log_params(request: Request) -> tuple[str, bool, int, uuid.UUID | None]:
    params = request.query_params
    sort = params.get("sort", "activated")
    if sort not in request_log.SORT_KEYS:
        raise InvalidInput("Sort by one of the table's columns.", code="invalid_sort")
    descending = params.get("order", "desc") != "asc"
    page_text = params.get("page", "1")
    # Checked as text, so that no number of thousands of digits is ever converted.
    if not (page_text.isdigit() and len(page_text) <= len(str(MAX_PAGE))):
        raise _page_refused()
    page = max(int(page_text), 1)
    if page > MAX_PAGE:
        raise _page_refused()
    try:
        agency = uuid.UUID(params["agency"]) if params.get("agency") else None
    except ValueError as exc:
        raise InvalidInput(
            "The agency filter is not an agency id; choose the agency from its page.",
            code="invalid_query",
        ) from exc
    return sort, descending, page, agency


def _page_refused() -> InvalidInput:
    return InvalidInput(
        f"There is no such page: pages are numbered 1 to {MAX_PAGE} at most.",
        code="invalid_page",
    )


@router.get("/transparency/requests", response_class=HTMLResponse)
async def requests_page(page: ReadPage) -> Response:
    """The log, a page at a time; a signed-out visitor gets the page kept at the log's
    current data version when there is one (``web.kept``): with no read replica, that
    is one autocommit statement in one threadpool hop."""
    params = _log_params(page.request)
    cache = request_log.kept_log(page.request.app)
    key = ("html", page.request.url.query)
    runtime: Runtime = page.request.app.state.runtime
    if kept.keeps_for(page) and not runtime.replicas.configured:
        body = await run_in_threadpool(kept.kept_now, runtime.db, cache, key, REQUEST_LOG)
        if body is not None:
            return kept.kept_response(page, body)
    return await run_in_threadpool(_kept_or_shown, page, cache, key, params)


def _kept_or_shown(
    page: Page, cache: kept.VersionedCache, key: tuple[str, str], params: tuple[Any, ...]
) -> Response:
    return kept.kept_page(
        page,
        cache,
        key,
        request_log.log_version(page.session),
        lambda: _requests_page(page, *params),
    )


def _requests_page(
    page: Page, sort: str, descending: bool, number: int, agency_id: uuid.UUID | None
) -> Response:
    total, rows = request_log.log_page(
        session=page.session,
        filters=request_log.RequestFilter(agency_id=agency_id),
        sort=sort,
        descending=descending,
        offset=(number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    extra = [("agency", str(agency_id))] if agency_id else []

    def link(**over: str) -> str:
        values = {"sort": sort, "order": "desc" if descending else "asc", "page": str(number)}
        values.update(over)
        return "/transparency/requests?" + urlencode(extra + list(values.items()))

    return _portal_page(
        page,
        "transparency/requests.html",
        rows=rows,
        total=total,
        page=number,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        sort=sort,
        descending=descending,
        sort_labels=SORT_LABELS,
        link=link,
        agency_query=urlencode(extra),
        geojson={
            "type": "FeatureCollection",
            "features": [_shown_feature(request_log.request_feature(r)) for r in rows if r.cells],
        },
    )


def _shown_feature(feature: dict[str, Any]) -> dict[str, Any]:
    """A request's map feature as the page embeds it: its outline, without the H3 ids of
    its cells (the downloads and the API keep them for machines)."""
    properties = {k: v for k, v in feature["properties"].items() if k != "cells"}
    return {**feature, "properties": properties}


def _log_filters(request: Request) -> request_log.RequestFilter:
    _sort, _descending, _page, agency_id = _log_params(request)
    return request_log.RequestFilter(agency_id=agency_id)


@router.get("/transparency/requests.csv")
def requests_csv(request: Request, runtime: RuntimeDep) -> Response:
    filters = _log_filters(request)

    def rows() -> Iterator[list[str]]:
        for item in request_log.stream_request_log(runtime.db, filters):
            yield request_log.request_row(item)

    return _download(_csv_text(request_log.REQUEST_COLUMNS, rows()), "text/csv", "requests.csv")


def _geojson_stream(runtime: Runtime, filters: request_log.RequestFilter) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":['
    for n, item in enumerate(request_log.stream_request_log(runtime.db, filters)):
        yield ("," if n else "") + json.dumps(request_log.request_feature(item))
    yield "]}"


@router.get("/transparency/requests.geojson")
def requests_geojson(request: Request, runtime: RuntimeDep) -> Response:
    return _download(
        _geojson_stream(runtime, _log_filters(request)),
        "application/geo+json",
        "requests.geojson",
    )


# ---------------------------------------------------------------- policy


@router.get("/transparency/policy", response_class=HTMLResponse)
def policy_page(page: ReadPage) -> Response:
    session = page.session
    names = {a.id: a.name for a in public.participating_agencies(session=session)}
    overrides = policy_service.all_overrides(session=session)
    return _portal_page(
        page,
        "transparency/policy.html",
        policy=policy_service.effective_policy(session=session),
        fields=list(PolicySettings.model_fields),
        labels=policy_service.SETTING_LABELS,
        overrides=[(names.get(a, str(a)), a, o) for a, o in overrides.items() if a in names],
        history=policy_service.history(session=session, all_levels=True),
        agency_names=names,
    )


# ---------------------------------------------------------------- audit log


@router.get("/transparency/audit", response_class=HTMLResponse)
def audit_page(page: ReadPage) -> Response:
    return _portal_page(
        page,
        "transparency/audit.html",
        head=digests.current_head(session=page.session),
        heads=digests.heads_up_to_date(session=page.session, limit=60),
        genesis=digests.GENESIS_HASH,
        content_keys=digests.CONTENT_KEYS,
    )


@router.get("/transparency/audit/log.jsonl")
def audit_log_download(runtime: RuntimeDep) -> Response:
    return _download(
        digests.stream_public_log(runtime.db), "application/x-ndjson", "doorstep-audit-log.jsonl"
    )


@router.get("/transparency/audit/heads.json")
def audit_heads_download(session: ReadSession) -> Response:
    heads = [
        {"day": h.day.isoformat(), "seq": h.seq, "head_hash": h.head_hash}
        for h in digests.daily_heads(session=session)
    ]
    return JSONResponse(heads)
