"""The public pages of the accountability datasets (no sign-in): every dataset with its
releases and withdrawals, and per dataset the table of partners (incidents before,
during and after each partnership), the coverage warnings, a per-year chart and a map
of the partner agencies (their public jurisdictions, marked at their centres)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from doorstep.accounts.deps import ThisPage
from doorstep.routing import GuardedRoute
from doorstep.transparency import charts, public, records
from doorstep.transparency.schemas import MonthCount

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


@router.get("/transparency/datasets", response_class=HTMLResponse)
def datasets_page(page: ThisPage) -> Response:
    return page.show(
        "transparency/datasets.html", datasets=records.published.datasets(session=page.session)
    )


@router.get("/transparency/datasets/{kind}", response_class=HTMLResponse)
def dataset_page(kind: str, page: ThisPage) -> Response:
    session = page.session
    releases = records.published.dataset_releases(session=session, kind=kind)
    figures = records.dataset_figures(session=session, kind=kind)
    partner_ids = {p.agency_id for p in figures.partners if p.total}
    mapped = [a for a in public.participating_agencies(session=session) if str(a.id) in partner_ids]
    bars = [
        MonthCount(month=str(year), count=n["with_partner"]) for year, n in figures.per_year.items()
    ]
    return page.show(
        "transparency/dataset.html",
        figures=figures,
        releases=releases,
        years=sorted({y for p in figures.partners for y in p.per_year}),
        chart=charts.bar_chart(bars, label=f"Incidents naming a partner, per year: {figures.kind}"),
        geojson=public.agencies_geojson(mapped),
    )
