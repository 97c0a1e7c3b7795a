"""How many frames per second the motion agent processes at 720p on this machine.

    .venv/bin/python -m bench.agent_fps [--seconds 20] [--fps 25]

Generates two 1280x720 H.264 clips with write_sample_clip (a static, noisy scene, and
one with a box moving through most of it), then runs the agent's frame loop on each
(decode with PyAV, yuv420p frame copy, the pre-roll ring buffer, motion detection; for
the second, also x264 encoding of the motion clip on its own thread) with nothing sent
anywhere. Prints frames per second for both, wall-clock and CPU time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import av

from doorstep.integrations.agent import AgentConfig, MotionAgent
from doorstep.media.samples import write_sample_clip


def measure(source: Path, state: Path) -> tuple[int, float, float, int]:
    config = AgentConfig(
        source=str(source),
        camera_id=uuid.uuid4(),
        token="unused",
        server_url="http://127.0.0.1:9",
        state_dir=state,
        source_start=datetime.now(UTC),
    )
    agent = MotionAgent(config)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        agent.process_source()
        agent.wait_for_clips()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        clips = len(agent.clips)
    finally:
        agent.close()
    with av.open(str(source)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    return frames, wall, cpu, clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"generating two {args.seconds:g} s 1280x720 clips at {args.fps} fps ...")
        static = write_sample_clip(
            folder / "static.mp4",
            seconds=args.seconds,
            width=1280,
            height=720,
            fps=args.fps,
            motion=None,
            noise=4.0,
            drift=2.0,
        )
        moving = write_sample_clip(
            folder / "moving.mp4",
            seconds=args.seconds,
            width=1280,
            height=720,
            fps=args.fps,
            motion=(2.0, args.seconds - 2.0),
            noise=4.0,
            drift=2.0,
        )
        for name, source in (
            ("no motion (detect only)", static),
            ("motion most of the time (detect + encode)", moving),
        ):
            frames, wall, cpu, clips = measure(source, folder / f"state-{source.stem}")
            print(
                f"{name}: {frames} frames in {wall:.2f} s = {frames / wall:.0f} frames/s "
                f"(CPU {cpu:.2f} s, {clips} clip(s))"
            )


if __name__ == "__main__":
    main()
