"""The ``doorstep`` command: serve, worker, migrate, demo (and its officer's code), users,
audit, events (the online move into partitions)."""

from __future__ import annotations

import getpass
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doorstep.accounts.models import Role
from doorstep.backup import backup_command, restore_command
from doorstep.config import Settings, get_settings
from doorstep.integrations.cli import agent, bridge_app
from doorstep.transparency.cli import app as transparency_app

if TYPE_CHECKING:
    from doorstep.migrations.online_partitions import Progress

app = typer.Typer(
    help="doorstep: a neighborhood camera network that answers to the public.", no_args_is_help=True
)
users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(users_app, name="users")
evidence_app = typer.Typer(help="Evidence export bundles.", no_args_is_help=True)
events_app = typer.Typer(help="Motion events.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")
app.add_typer(events_app, name="events")
app.add_typer(bridge_app, name="bridge")
app.add_typer(transparency_app, name="transparency")
app.command("agent")(agent)
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def _runtime(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from doorstep.runtime import Runtime

    return Runtime(settings or get_settings())


def _configure_logging(default_format: str = "json") -> None:
    """JSON lines for processes an operator runs; ``DOORSTEP_LOG_FORMAT`` overrides."""
    import os

    from doorstep import logs

    logs.configure(log_format=os.environ.get("DOORSTEP_LOG_FORMAT", default_format))


@app.command()
def migrate(revision: str = "head") -> None:
    """Create or upgrade the database schema (Alembic)."""
    from doorstep.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url(), revision)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    with_worker: Annotated[bool, typer.Option(help="Run the worker in this process.")] = False,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the web app and API (run `doorstep worker` beside it in production)."""
    import uvicorn

    from doorstep.app import create_app

    _configure_logging()
    if workers > 1:
        os.environ["DOORSTEP_SERVE_WITH_WORKER"] = "1" if with_worker else ""
        uvicorn.run(
            "doorstep.cli:_app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
        )
        return
    uvicorn.run(
        create_app(_runtime(), run_worker=with_worker), host=host, port=port, proxy_headers=True
    )


def _app_factory():  # type: ignore[no-untyped-def]
    from doorstep.app import create_app

    return create_app(_runtime(), run_worker=bool(os.environ.get("DOORSTEP_SERVE_WITH_WORKER")))


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Drain due jobs, run sweeps once, exit.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's job and sweep metrics for Prometheus on this port."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="The address the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Deliver outbox jobs (alerts, email, push) and run retention sweeps."""
    import signal

    from prometheus_client import start_http_server

    from doorstep import telemetry
    from doorstep.jobs import job_registry
    from doorstep.notify.worker import Worker

    _configure_logging()
    runtime = _runtime()
    w = Worker(runtime, job_registry(runtime.settings))
    if once:
        w.run_periodic(force=True)
        typer.echo(f"{w.drain()} jobs attempted")
        return
    if metrics_port is not None:
        start_http_server(metrics_port, addr=metrics_host, registry=telemetry.REGISTRY)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    w.run_forever(stop)


_DEMO_DIR = Path("doorstep-demo")
DemoDir = Annotated[Path, typer.Option(help="Where the demo keeps its files.")]


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: DemoDir = _DEMO_DIR,
    reset: Annotated[bool, typer.Option(help="Start again from an empty demo.")] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the demo, do not serve.")] = (
        False
    ),
) -> None:
    """Build the demo neighborhood (SQLite, local media) and serve it with its worker.

    Served over plain http on 127.0.0.1 (or another loopback address), its session
    cookies are not Secure, so API clients there keep them; see ``serving_environment``.
    """
    import shutil

    from doorstep.demo import DEMO_PASSWORD, mark_demo, officer_totp_secret, seed_demo
    from doorstep.migrate import upgrade

    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    settings = _demo_settings(data_dir, host=host, port=port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    runtime = _runtime(settings)
    accounts = seed_demo(runtime)
    mark_demo(settings.data_dir)
    typer.echo("")
    typer.echo(f"doorstep demo: {settings.base_url}")
    for role, email in accounts.items():
        typer.echo(f"  {role:<9} {email}  password: {DEMO_PASSWORD}")
    secret = officer_totp_secret(runtime)
    if secret:
        typer.echo(f"  the officer signs in with two-factor: TOTP secret {secret}")
        where = "" if data_dir == _DEMO_DIR else f" --data-dir {data_dir}"
        typer.echo(f"  (add it to an authenticator app, or run: doorstep demo-code{where})")
    typer.echo("")
    if no_serve:
        return
    import uvicorn

    from doorstep.app import create_app

    _configure_logging("console")  # the demo is read in a terminal
    uvicorn.run(create_app(runtime, run_worker=True), host=host, port=port)


def _demo_settings(data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000) -> Settings:
    from doorstep.demo import serving_environment

    os.environ.update(
        serving_environment(data_dir=data_dir, host=host, port=port, environ=os.environ)
    )
    get_settings.cache_clear()
    return get_settings()


@app.command("demo-code")
def demo_code(
    email: Annotated[
        str | None, typer.Argument(help="The demo officer's email (the only account allowed).")
    ] = None,
    data_dir: DemoDir = _DEMO_DIR,
) -> None:
    """Print the demo officer's current two-factor code (the demo only; no other account)."""
    from doorstep.demo import officer_code
    from doorstep.errors import DoorstepError

    try:
        code = officer_code(_demo_settings(data_dir), email)
    except DoorstepError as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(code)


@events_app.command("prepare-partitions")
def events_prepare_partitions(
    batch: Annotated[int, typer.Option(min=1, help="Events copied per transaction.")] = 50_000,
    month_pause_s: Annotated[
        float, typer.Option(min=0.0, help="Seconds to wait between months (spares the disks).")
    ] = 0.0,
    abandon: Annotated[
        bool, typer.Option("--abandon", help="Remove what an earlier run prepared.")
    ] = False,
) -> None:
    """Copy motion events into their monthly partitions while the app keeps writing, before
    `doorstep migrate` reaches 20261205_0015 (which then only swaps the tables)."""
    from doorstep.db import make_engine
    from doorstep.migrations import online_partitions

    engine = make_engine(get_settings().resolved_database_url())
    try:
        if abandon:
            removed = online_partitions.abandon(engine)
            typer.echo("removed the prepared partitions" if removed else "nothing to remove")
            return
        counts = online_partitions.prepare(
            engine,
            batch_rows=batch,
            month_pause_s=month_pause_s,
            report=_report_month,
        )
    except online_partitions.OnlineMoveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    if counts is None:
        typer.echo("nothing to do: motion events are partitioned already, or not on PostgreSQL")
        return
    for count in counts:
        typer.echo(f"verified {count.partition}: {count.new} events")
    typer.echo(
        "ready: run `doorstep migrate --revision 20261205_0015` (a short swap), "
        "then `doorstep migrate`"
    )


def _report_month(progress: Progress) -> None:
    if progress.done:
        where = progress.partition
        if progress.stretch != where:
            where += f" ({progress.stretch} the months)"
        typer.echo(f"copied {where}: {progress.copied} events in {progress.seconds:.1f} s")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(prompt=True)],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    role: Role = Role.resident,
    password: Annotated[str | None, typer.Option(help="Prompted when omitted")] = None,
) -> None:
    """Create an account (e.g. the first admin)."""
    from doorstep.accounts import service as account_service
    from doorstep.errors import DoorstepError

    if password is None:
        password = getpass.getpass("Password: ")
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            user = account_service.create_user(
                session=session,
                actor=None,
                email=email,
                display_name=name or email.split("@")[0],
                password=password,
                role=role,
            )
            typer.echo(f"created {user.email} ({user.role.value}) id={user.id}")
    except DoorstepError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@users_app.command("set-role")
def users_set_role(email: str, role: Role) -> None:
    """Change a user's role from the server's shell (audited as the system)."""
    from doorstep import audit
    from doorstep.accounts import service as account_service

    runtime = _runtime()
    with runtime.db.transaction() as session:
        user = account_service.find_user_by_email(session=session, email=email)
        if user is None:
            typer.echo(f"error: no user {email}", err=True)
            raise typer.Exit(2)
        previous = account_service.assign_role(
            session=session, actor=audit.Actor.system("cli"), user=user, role=role
        )
    typer.echo(f"{email}: {previous.value} -> {role.value}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; name the first record that was changed, removed or reordered."""
    from doorstep.audit import verify_chain

    runtime = _runtime()
    with runtime.db.transaction() as session:
        result = verify_chain(session=session)
    if result.ok:
        typer.echo(f"ok: {result.records} records, head {result.head_hash}")
        return
    typer.echo(f"BROKEN at record {result.first_bad_seq}: {result.problem}", err=True)
    raise typer.Exit(1)


@evidence_app.command("verify")
def evidence_verify(bundle: Path) -> None:
    """Check an evidence bundle offline: every clip's size and SHA-256 against its manifest."""
    from doorstep.footage.evidence import verify_bundle

    result = verify_bundle(bundle)
    if result.ok:
        typer.echo(f"ok: {result.files} clips match manifest.json")
        return
    for problem in result.problems:
        typer.echo(f"FAIL: {problem}", err=True)
    raise typer.Exit(1)
