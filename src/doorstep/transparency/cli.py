"""``doorstep transparency ...``: the annual report, accountability datasets, and the
check of a downloaded public audit log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doorstep.config import get_settings
from doorstep.errors import DoorstepError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from doorstep.runtime import Runtime

app = typer.Typer(help="Public reporting, accountability datasets, the public log.",
                  no_args_is_help=True)  # fmt: skip


def _runtime() -> Runtime:
    # Imported here: the command line starts without the database and media layers.
    from doorstep.runtime import Runtime

    return Runtime(get_settings())


@contextmanager
def _session() -> Iterator[Session]:
    """A transaction of a fresh runtime; a domain error is a one-line error and exit 1."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            yield session
    except DoorstepError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()


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


KindOption = Annotated[str | None, typer.Option(help="Only this dataset kind.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("import-records")
def import_records(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option(help="Dataset kind, e.g. fatal-police-shootings.")],
    preset: Annotated[str, typer.Option(help="csv, wapo-v2 or fatal-encounters.")] = "csv",
    agencies: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="wapo-v2: the Post's agencies file."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="The files' text encoding.")] = "utf-8-sig",
    agency_col: Annotated[str, typer.Option(help="Column with the agency's name.")] = "agency",
    state_col: Annotated[str, typer.Option(help="Column with the state.")] = "state",
    date_col: Annotated[str, typer.Option(help="Column with the incident date.")] = "date",
    id_col: Annotated[str | None, typer.Option(help="Column with the dataset's own id.")] = None,
    agency_sep: Annotated[
        str | None, typer.Option(help="Separator of several agencies in one cell, e.g. ';'.")
    ] = None,
    source_url: Annotated[str | None, typer.Option(help="Where the release was got.")] = None,
    released_on: Annotated[
        str | None, typer.Option(help="The release's date (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load a release of a dataset of incidents attributed to agencies, in one
    transaction; prints a summary and the names left for review, grouped."""
    from doorstep.transparency import records

    columns = records.Columns(agency_col, state_col, date_col, id_col, agency_sep)
    try:
        rows = records.incident_rows(
            preset=preset, path=file, columns=columns, agencies_path=agencies, encoding=encoding
        )
    except DoorstepError as exc:
        raise _fail(exc.message) from exc
    release = records.ReleaseInfo(
        kind=kind,
        source=str(file),
        source_url=source_url,
        released_on=_day(released_on),
        sha256=records.file_sha256(file),
    )
    with _session() as session:
        result = records.import_release(session=session, rows=rows, release=release)
        groups = records.review_groups(session=session, kind=kind)
        undated = records.undated_records(session=session, kind=kind)
        lines = records.text.review_lines(groups, undated, limit=10, kind=kind)
    if as_json:
        typer.echo(json.dumps(records.text.import_json(result), indent=2))
        return
    for line in [*records.text.import_lines(result), *lines]:
        typer.echo(line)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _fail(f"--released-on {text!r} is not a date (YYYY-MM-DD)") from exc


@app.command("review")
def review(
    kind: KindOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(help="Names shown (text).")] = 50,
) -> None:
    """The names that match no agency, grouped by (name, state) with their row counts
    and the closest partners; the incidents whose date was not understood."""
    from doorstep.transparency import records

    with _session() as session:
        groups = records.review_groups(session=session, kind=kind)
        undated = records.undated_records(session=session, kind=kind)
        lines = records.text.review_lines(groups, undated, limit=limit, kind=kind)
        data = records.text.review_json(groups, undated)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for line in lines:
        typer.echo(line)


@app.command("link-name")
def link_name(
    name: Annotated[str, typer.Argument(help="The name as the dataset writes it.")],
    state: Annotated[str, typer.Option(help="Its state.")],
    agency: Annotated[uuid.UUID, typer.Option(help="The agency's id.")],
) -> None:
    """The dataset's NAME is this agency: adds the alias (audited, public) and matches
    the stored rows at once."""
    from doorstep.transparency import records

    with _session() as session:
        found = records.link_name(
            session=session, actor=None, name=name, state=state, agency_id=agency
        )
    typer.echo(f"{name!r} ({state}) is an alias of agency {agency}; {found} rows matched")


@app.command("add-identifier")
def add_identifier(
    agency: Annotated[uuid.UUID, typer.Argument(help="The agency's id.")],
    scheme: Annotated[str, typer.Argument(help="alias, wapo (Post agency id) or ori.")],
    value: Annotated[str, typer.Argument(help="The alias or the code.")],
) -> None:
    """Give an agency an alias or an outside code (audited, public); stored rows are
    matched again at once."""
    from doorstep.transparency import records

    with _session() as session:
        found = records.matching.add_identifier(
            session=session, actor=None, agency_id=agency, scheme=scheme, value=value
        )
    typer.echo(f"{scheme} {value!r} added to agency {agency}; {found} rows matched")


@app.command("releases")
def releases(kind: KindOption = None) -> None:
    """The releases imported, oldest first, withdrawn ones marked."""
    from doorstep.transparency import records

    with _session() as session:
        lines = [
            f"{r.id} {r.kind} {r.imported_at:%Y-%m-%d} {Path(r.source).name} "
            f"released {r.released_on or '?'}: {r.rows_added} added, "
            f"{r.rows_revised or 0} revised"
            + (f"; WITHDRAWN {r.withdrawn_at:%Y-%m-%d}: {r.withdrawn_reason}"
               if r.withdrawn_at else "")
            for r in records.list_releases(session=session, kind=kind)
        ]  # fmt: skip
    for line in lines or ["no release imported yet"]:
        typer.echo(line)


@app.command("withdraw-release")
def withdraw_release(
    release: Annotated[uuid.UUID, typer.Argument(help="The release's id.")],
    reason: Annotated[str, typer.Option(help="Why; it is published.")],
) -> None:
    """Withdraw a release: its incidents leave every figure (audited, public)."""
    from doorstep.transparency import records

    with _session() as session:
        records.withdraw_release(session=session, release_id=release, reason=reason)
    typer.echo(f"release {release} withdrawn")


@app.command("analyze")
def analyze(
    since: Annotated[int, typer.Option(help="Look back this many years from today.")],
    kind: Annotated[str | None, typer.Option(help="Dataset kind (default: every kind).")] = None,
    as_json: JsonOption = False,
    csv_dir: Annotated[
        Path | None, typer.Option("--csv", help="Write KIND-agencies.csv into this directory.")
    ] = None,
) -> None:
    """For participating agencies: how many have at least one incident in the period and
    what share of the dataset's incidents they account for (shown on the agency pages);
    then every partner's incidents before, during and after its partnership."""
    from doorstep.transparency import records

    with _session() as session:
        kinds = [kind] if kind else records.dataset_kinds(session=session)
        if not kinds:
            raise _fail("no dataset imported yet (doorstep transparency import-records)")
        results = [
            (records.analyze(session=session, kind=each, since_years=since),
             records.dataset_figures(session=session, kind=each))
            for each in kinds
        ]  # fmt: skip
    if csv_dir is not None:
        csv_dir.mkdir(parents=True, exist_ok=True)
        for _, figures in results:
            path = csv_dir / f"{figures.kind}-agencies.csv"
            path.write_text(records.figures_csv(figures), encoding="utf-8")
            typer.echo(f"wrote {path}", err=as_json)
    if as_json:
        data = {f.kind: {"since": records.text.analysis_json(a), "figures": records.figures_json(f)}
                for a, f in results}  # fmt: skip
        typer.echo(json.dumps(data, indent=2))
        return
    for analysis, figures in results:
        for line in [records.text.analysis_line(analysis), *records.text.figures_lines(figures)]:
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
