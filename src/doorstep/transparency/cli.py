"""``doorstep transparency ...``: the annual report, accountability datasets, and the
check of a downloaded public audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doorstep.config import get_settings
from doorstep.errors import DoorstepError

if TYPE_CHECKING:
    from doorstep.runtime import Runtime

app = typer.Typer(help="Public reporting, accountability datasets, the public log.",
                  no_args_is_help=True)  # fmt: skip


def _runtime() -> Runtime:
    # Imported here: the command line starts without the database and media layers.
    from doorstep.runtime import Runtime

    return Runtime(get_settings())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command("report")
def report(
    year: Annotated[int, typer.Option(help="Calendar year (UTC).")],
    out: Annotated[Path, typer.Option(help="Directory to write into.")] = Path("."),
) -> None:
    """Write the annual report: Markdown and CSV files."""
    from doorstep.transparency.report import write_annual_report

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            result = write_annual_report(
                session=session,
                year=year,
                out_dir=out,
                instance_name=runtime.settings.instance_name,
            )
    finally:
        runtime.close()
    typer.echo(f"wrote {result.markdown}")
    for path in result.csv_files:
        typer.echo(f"wrote {path}")
    typer.echo(
        f"{result.requests} requests, {result.asked} owners asked, {result.shared} shared, "
        f"{result.declined} declined, {result.agencies_taking_part} agencies taking part"
    )


@app.command("import-records")
def import_records(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option(help="Dataset kind, e.g. use-of-force.")],
    agency_col: Annotated[str, typer.Option(help="Column with the agency's name.")] = "agency",
    state_col: Annotated[str, typer.Option(help="Column with the state.")] = "state",
    date_col: Annotated[str, typer.Option(help="Column with the incident date.")] = "date",
    id_col: Annotated[str | None, typer.Option(help="Column with the dataset's own id.")] = None,
) -> None:
    """Load a CSV of incidents attributed to agencies; unmatched rows are listed for review."""
    from doorstep.transparency import records

    columns = records.Columns(agency=agency_col, state=state_col, date=date_col, id=id_col)
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            result = records.import_records(
                session=session,
                rows=records.read_csv(file),
                kind=kind,
                columns=columns,
                source=str(file),
            )
            review = [
                (r.row_number, r.agency_name, r.state_text, r.review_note)
                for r in result.for_review
            ]
    except DoorstepError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()
    typer.echo(
        f"{result.rows_read} rows read: {result.rows_added} added "
        f"({result.rows_matched} matched, {len(review)} for review), "
        f"{result.rows_already_loaded} already loaded"
    )
    if review:
        typer.echo("rows for review (kept, not matched):")
        for number, name, state, note in review:
            typer.echo(f"  line {number}: {name!r} ({state}): {note}")


@app.command("review")
def review(
    kind: Annotated[str | None, typer.Option(help="Only this dataset kind.")] = None,
) -> None:
    """List the dataset rows that match no agency (kept for review)."""
    from doorstep.transparency import records

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            rows = [
                (r.kind, r.row_number, r.agency_name, r.state_text, r.review_note)
                for r in records.rows_for_review(session=session, kind=kind)
            ]
    except DoorstepError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()
    for row_kind, number, name, state, note in rows:
        typer.echo(f"{row_kind} line {number}: {name!r} ({state}): {note}")
    typer.echo(f"{len(rows)} rows for review")


@app.command("analyze")
def analyze(
    since: Annotated[int, typer.Option(help="Look back this many years from today.")],
    kind: Annotated[str | None, typer.Option(help="Dataset kind (default: every kind).")] = None,
) -> None:
    """For participating agencies: how many have at least one incident in the period and
    what share of the dataset's incidents they account for. Shown on the agency pages."""
    from sqlalchemy import select

    from doorstep.transparency import records
    from doorstep.transparency.models import AccountabilityRecord

    runtime = _runtime()
    lines: list[str] = []
    try:
        with runtime.db.transaction() as session:
            kinds = (
                [kind]
                if kind
                else sorted(set(session.scalars(select(AccountabilityRecord.kind).distinct())))
            )
            if not kinds:
                raise _fail("no dataset imported yet (doorstep transparency import-records)")
            for each in kinds:
                result = records.analyze(session=session, kind=each, since_years=since)
                share = (
                    f"{result.incidents_participating / result.incidents_total:.1%}"
                    if result.incidents_total
                    else "n/a"
                )
                lines.append(
                    f"{result.kind} since {result.period_start}: "
                    f"{result.agencies_with_incidents} of {result.participating_agencies} "
                    f"participating agencies have at least one incident; they account for "
                    f"{result.incidents_participating} of {result.incidents_total} incidents "
                    f"({share})"
                )
    except DoorstepError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()
    for line in lines:
        typer.echo(line)


@app.command("publish-heads")
def publish_heads() -> None:
    """Publish the audit chain's head of every finished day not yet published."""
    from doorstep.transparency.digests import publish_daily_head

    runtime = _runtime()
    try:
        count = publish_daily_head(runtime)
    finally:
        runtime.close()
    typer.echo(f"published {count} daily heads")


def _published_heads(path: Path | None) -> dict[int, str]:
    if path is None:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(h["seq"]): str(h["head_hash"]) for h in data}


@app.command("verify-download")
def verify_download(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    heads: Annotated[
        Path | None,
        typer.Option(help="heads.json from /transparency/audit/heads.json to check against."),
    ] = None,
) -> None:
    """Verify a downloaded public audit log (no database needed)."""
    from doorstep.transparency.digests import verify_public_log

    with file.open(encoding="utf-8") as fh:
        result = verify_public_log(fh, published_heads=_published_heads(heads))
    if result.ok:
        typer.echo(
            f"ok: {result.records} records ({result.public_records} public), "
            f"head {result.head_seq} {result.head_hash}"
        )
        return
    typer.echo(f"BROKEN at record {result.first_bad_seq}: {result.problem}", err=True)
    raise typer.Exit(1)
