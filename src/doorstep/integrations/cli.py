"""Commands for real cameras: ``doorstep bridge frigate`` and ``doorstep agent``.

Wired into the main command in ``doorstep.cli``::

    app.add_typer(bridge_app, name="bridge")
    app.command("agent")(agent)
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doorstep import logs

if TYPE_CHECKING:
    from doorstep.integrations.agent import AgentConfig
    from doorstep.integrations.motion import Polygon

bridge_app = typer.Typer(
    help="Bridges from camera systems people already run.", no_args_is_help=True
)


def _configure_logging(verbose: bool) -> None:
    logs.configure(logging.DEBUG if verbose else logging.INFO)


@bridge_app.command("frigate")
def frigate(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="The bridge's TOML file.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    check: Annotated[bool, typer.Option(help="Check the file, print the cameras, exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Send Frigate's review items to doorstep (events, or clips from its recordings)."""
    from doorstep.integrations.frigate import FrigateBridge
    from doorstep.integrations.frigate_config import BridgeConfigError, load_config

    try:
        cfg = load_config(config)
    except BridgeConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if check:
        typer.echo(
            f"mode {cfg.mode}; MQTT {cfg.mqtt.host}:{cfg.mqtt.port} "
            f"topics {', '.join(f'{cfg.mqtt.topic_prefix}/{t}' for t in cfg.topics)}; "
            f"state in {cfg.state_dir}"
        )
        for link in cfg.cameras.values():
            f = link.filters
            typer.echo(
                f"  {link.frigate_name} -> camera {link.camera_id} "
                f"(severity {','.join(f.severity) or 'any'}; "
                f"labels {','.join(f.labels) or 'any'}; zones {','.join(f.zones) or 'any'})"
            )
        return
    _configure_logging(verbose)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bridge = FrigateBridge(cfg)
        try:
            await bridge.run(stop)
        finally:
            bridge.close()

    asyncio.run(main())


# The agent's options, one alias each so the command reads as a list of them.
SourceOption = Annotated[str, typer.Option(help="rtsp://… URL or a video file.")]
CameraOption = Annotated[uuid.UUID, typer.Option(help="The doorstep camera id.")]
TokenOption = Annotated[
    str, typer.Option(envvar="DOORSTEP_CAMERA_TOKEN", help="The camera's ingest token.")
]
ServerOption = Annotated[str, typer.Option(envvar="DOORSTEP_SERVER", help="doorstep's base URL.")]
MaskOption = Annotated[
    list[str] | None,
    typer.Option(help='Area to ignore, "x1,y1 x2,y2 x3,y3 …" in source pixels; repeatable.'),
]
MinAreaOption = Annotated[
    float, typer.Option(help="Smallest moving blob, as a fraction of the frame.")
]
SensitivityOption = Annotated[
    float, typer.Option(help="Background-subtraction threshold; lower sees fainter changes.")
]
PreRollOption = Annotated[float, typer.Option(help="Seconds kept before motion.")]
PostRollOption = Annotated[
    float, typer.Option(help="Seconds kept after motion; shorter pauses stay one clip.")
]
MaxClipOption = Annotated[float, typer.Option(help="Longer motion is cut in clips.")]
KindOption = Annotated[str, typer.Option(help="The event kind reported.")]
LocalFirstOption = Annotated[
    bool, typer.Option(help="Report events only; keep clips here until the owner shares one.")
]
KeepDirOption = Annotated[Path | None, typer.Option(help="Where local-first clips are kept.")]
KeepDaysOption = Annotated[float, typer.Option(help="Retention of kept clips.")]
StateDirOption = Annotated[
    Path | None,
    typer.Option(help="The durable outbox (default ~/.local/state/doorstep-agent/<camera>)."),
]
SourceStartOption = Annotated[
    datetime | None,
    typer.Option(help="A file's first-frame time, with zone (default: its mtime minus duration)."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v")]


def _check_agent_options(
    *, local_first: bool, keep_dir: Path | None, source_start: datetime | None, mask: list[str]
) -> list[Polygon]:
    """Refuse option combinations the agent cannot run with; the masks, parsed."""
    from doorstep.integrations.motion import parse_polygon

    if local_first and keep_dir is None:
        raise typer.BadParameter("--local-first needs --keep-dir", param_hint="--keep-dir")
    if source_start is not None and source_start.tzinfo is None:
        raise typer.BadParameter(
            "give a time zone, e.g. 2026-11-29T12:00:00+00:00", param_hint="--source-start"
        )
    try:
        return [parse_polygon(m) for m in mask]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mask") from exc


def _run_agent(cfg: AgentConfig) -> None:
    """Run until SIGTERM or Ctrl-C, then say what was recorded and what still waits."""
    from doorstep.integrations.agent import MotionAgent

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runner = MotionAgent(cfg)
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        waiting = runner.outbox.count()
        runner.close()
    typer.echo(
        f"{len(runner.clips)} clip(s) recorded; {waiting} waiting for doorstep "
        f"(kept in {cfg.state_dir})"
    )


def agent(
    source: SourceOption,
    camera: CameraOption,
    token: TokenOption,
    server: ServerOption,
    mask: MaskOption = None,
    min_area: MinAreaOption = 0.003,
    sensitivity: SensitivityOption = 25.0,
    pre_roll: PreRollOption = 2.0,
    post_roll: PostRollOption = 3.0,
    max_clip: MaxClipOption = 300.0,
    kind: KindOption = "motion",
    local_first: LocalFirstOption = False,
    keep_dir: KeepDirOption = None,
    keep_days: KeepDaysOption = 7.0,
    state_dir: StateDirOption = None,
    source_start: SourceStartOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Watch an RTSP camera or a video file; upload motion clips (or report local-first
    events) to doorstep."""
    from doorstep.integrations.agent import AgentConfig
    from doorstep.integrations.motion import MotionSettings

    masks = _check_agent_options(
        local_first=local_first, keep_dir=keep_dir, source_start=source_start, mask=mask or []
    )
    _configure_logging(verbose)
    cfg = AgentConfig(
        source=source,
        camera_id=camera,
        token=token,
        server_url=server.rstrip("/"),
        state_dir=state_dir or Path.home() / ".local/state/doorstep-agent" / str(camera),
        masks=masks,
        motion=MotionSettings(min_area=min_area, sensitivity=sensitivity),
        pre_roll_s=pre_roll,
        post_roll_s=post_roll,
        max_clip_s=max_clip,
        kind=kind,
        local_first=local_first,
        keep_dir=keep_dir,
        keep_days=keep_days,
        source_start=source_start,
    )
    _run_agent(cfg)
