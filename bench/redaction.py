"""Redaction (issue 13): quality on real labelled photographs, and speed on a 720p clip.

    python -m bench.redaction [--seconds 30] [--detect-every 5] [--text-every 2]

Quality: the labelled faces (dlib's PASCAL VOC examples) and licence plates (OpenALPR's
benchmark set) are panned across 1280x720 clips (``bench.redaction_clips``), encoded
with x264, decoded again and run through the same ``Redactor`` as ``redact_clip``. A
labelled box counts as covered on a frame when at least ``--cover`` of its pixels lie in
hidden boxes. Reported per frame: recall of faces at least 24 px high, recall of plates,
and false positives (hidden boxes that touch no labelled box, as a share of hidden boxes
and per frame).

Speed: a ``--seconds`` 1280x720 25 fps clip of the same photographs is redacted with
``redact_clip`` (decode, detect, track, hide, encode), and, in the same run, passed
through the same pipeline with both detectors off (plain decode + encode). Each runs in
a fresh process, which reports its wall time, CPU time and peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.machine import machine
from bench.output import write_results
from bench.redaction_clips import FACES, PLATES, ClipShape, load_labelled, write_clip
from doorstep.media.redaction import RedactionOptions, build_detectors, redact_clip
from doorstep.media.redaction.geometry import Box, intersection
from doorstep.media.redaction.redactor import RedactedFrame, Redactor

MIN_FACE_PX = 24.0
RESULTS = Path(__file__).resolve().parent / "results"


def _covered(box: Box, mask: np.ndarray[Any, Any]) -> float:
    height, width = mask.shape
    x1, y1, x2, y2 = box.pixels(width, height)
    area = max(1, (x2 - x1) * (y2 - y1))
    return float(mask[y1:y2, x1:x2].sum()) / area


def _score_frame(
    frame: RedactedFrame, truth: tuple[Box, ...], kind: str, cover: float, tally: dict[str, int]
) -> None:
    height, width = frame.image.shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for _, box in frame.hidden:
        x1, y1, x2, y2 = box.pixels(width, height)
        mask[y1:y2, x1:x2] = True
    wanted = [b for b in truth if kind != "face" or b.height >= MIN_FACE_PX]
    hits = sum(_covered(b, mask) >= cover for b in wanted)
    tally["labels"] += len(wanted)
    tally["covered"] += hits
    tally["frames"] += 1
    tally["frames_all_covered"] += hits == len(wanted)
    detector_kind = "face" if kind == "face" else "text"
    mine = [box for k, box in frame.hidden if k == detector_kind]
    tally["hidden_boxes"] += len(mine)
    tally["false_positives"] += sum(all(intersection(h, b) == 0 for b in truth) for h in mine)


def quality(kind: str, options: RedactionOptions, cover: float, folder: Path) -> dict[str, Any]:
    """Per-frame coverage of the labelled ``kind`` ("face" or "plate") boxes."""
    photos = load_labelled(FACES if kind == "face" else PLATES)
    clip = folder / f"{kind}s.mp4"
    truth = write_clip(clip, photos, ClipShape(seconds_each=2.0))
    faces, text = build_detectors(options)
    tally = dict.fromkeys(
        ("labels", "covered", "frames", "frames_all_covered", "hidden_boxes", "false_positives"),
        0,
    )
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        redactor = Redactor(
            options, fps=25.0, width=video.width, height=video.height, faces=faces, text=text
        )
        for index, decoded in enumerate(source.decode(video)):
            image = np.asarray(decoded.to_ndarray(format="rgb24"), dtype=np.uint8)
            for frame in redactor.push(index, image):
                _score_frame(frame, truth[frame.index], kind, cover, tally)
        for frame in redactor.finish():
            _score_frame(frame, truth[frame.index], kind, cover, tally)
    return {
        "photos": len(photos),
        **tally,
        "recall": round(tally["covered"] / max(1, tally["labels"]), 4),
        "share_of_frames_fully_covered": round(
            tally["frames_all_covered"] / max(1, tally["frames"]), 4
        ),
        "false_positive_share": round(tally["false_positives"] / max(1, tally["hidden_boxes"]), 4),
        "false_positives_per_frame": round(tally["false_positives"] / max(1, tally["frames"]), 3),
    }


def _timed_child(src: str, dst: str, options: RedactionOptions, out: Any) -> None:
    """Runs in a fresh process: redact ``src`` and send back the figures."""
    wall, cpu = time.perf_counter(), time.process_time()
    report = redact_clip(Path(src), Path(dst), options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out.put(
        {
            "frames": report.frames,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "fps": round(report.frames / wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "output_bytes": Path(dst).stat().st_size,
        }
    )


def _run_child(src: Path, dst: Path, options: RedactionOptions) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_timed_child, args=(str(src), str(dst), options, out))
    child.start()
    figures: dict[str, Any] = out.get()
    child.join()
    return figures


def speed(options: RedactionOptions, seconds: float, folder: Path) -> dict[str, Any]:
    """Redact a ``seconds`` 720p clip, and pass it through with the detectors off."""
    shape = ClipShape()
    photos = load_labelled(FACES) + load_labelled(PLATES)
    clip = folder / "speed.mp4"
    write_clip(clip, photos, shape, total=round(seconds * shape.fps))
    plain = _run_child(clip, folder / "plain.mp4", replace(options, faces=False, text=False))
    redacted = _run_child(clip, folder / "redacted.mp4", options)
    return {
        "clip": {"seconds": seconds, "width": shape.width, "height": shape.height, "fps": 25},
        "plain_decode_encode": plain,
        "redaction": redacted,
        "ratio_to_plain": round(redacted["wall_s"] / plain["wall_s"], 2),
        "real_time_factor": round(seconds / redacted["wall_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--detect-every", type=int, default=RedactionOptions.detect_every)
    parser.add_argument("--text-every", type=int, default=RedactionOptions.text_every)
    parser.add_argument("--cover", type=float, default=0.8, help="share of a label hidden")
    parser.add_argument("--preset", default=RedactionOptions.x264_preset, help="x264 preset")
    parser.add_argument("--only", choices=("quality", "speed"), help="run one half")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    options = RedactionOptions(
        detect_every=args.detect_every, text_every=args.text_every, x264_preset=args.preset
    )
    results: dict[str, Any] = {"machine": machine(), "settings": options.settings()}
    results["load_average_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in ("face", "plate") if args.only != "speed" else ():
            results[f"{kind}_quality"] = quality(kind, options, args.cover, folder)
            print(kind, results[f"{kind}_quality"])
        if args.only != "quality":
            results["speed"] = speed(options, args.seconds, folder)
            print("speed", results["speed"])
    results["load_average_after"] = os.getloadavg()
    print("results:", write_results("redaction", results, args.results))


if __name__ == "__main__":
    main()
