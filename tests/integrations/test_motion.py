"""Motion detection on generated videos whose motion is known: a box crosses the frame
from A to B seconds; noise, lighting drift and masks must not fool it."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorstep.integrations.motion import SpanTracker, detect_spans, parse_polygon

W, H = 320, 240  # write_sample_clip's default size


@pytest.mark.parametrize(
    ("video", "expected"),
    [("motion_3_6", (3.0, 6.0)), ("noisy_2_4", (2.0, 4.5)), ("late_7_9", (7.0, 9.0))],
)
def test_detected_spans_match_the_known_motion_within_a_second(
    videos: dict[str, Path], video: str, expected: tuple[float, float]
) -> None:
    spans = detect_spans(videos[video])
    assert len(spans) == 1, spans
    assert abs(spans[0].start_s - expected[0]) <= 1.0
    assert abs(spans[0].end_s - expected[1]) <= 1.0


def test_a_static_scene_with_noise_and_lighting_drift_has_no_motion(
    videos: dict[str, Path],
) -> None:
    assert detect_spans(videos["static"]) == []


def test_a_mask_over_the_path_suppresses_the_motion(videos: dict[str, Path]) -> None:
    # The box moves left to right in a band between 1/8 and 7/8 of the height.
    band = parse_polygon(f"0,{H // 8 - 4} {W},{H // 8 - 4} {W},{7 * H // 8 + 4} 0,{7 * H // 8 + 4}")
    assert detect_spans(videos["motion_3_6"], masks=[band]) == []


def test_a_mask_over_half_the_frame_sees_only_the_other_half(videos: dict[str, Path]) -> None:
    left = parse_polygon(f"0,0 {W // 2},0 {W // 2},{H} 0,{H}")
    spans = detect_spans(videos["motion_3_6"], masks=[left])
    assert len(spans) == 1
    # The box (1/6 of the width) reaches the right half 40 % into its 3 s crossing.
    assert 3.0 + 0.3 * 3 <= spans[0].start_s <= 3.0 + 0.5 * 3
    assert abs(spans[0].end_s - 6.0) <= 1.0


def test_mask_polygons_are_checked() -> None:
    assert parse_polygon("0,0 10,0 10,10") == [(0, 0), (10, 0), (10, 10)]
    with pytest.raises(ValueError, match="three points"):
        parse_polygon("0,0 10,10")
    with pytest.raises(ValueError, match="x,y"):
        parse_polygon("0,0 10;10 nope")


def test_span_tracker_debounces_blips_and_merges_short_pauses() -> None:
    tracker = SpanTracker(start_frames=2, gap_s=1.0, frame_s=0.1)
    answers = {
        0.0: False,
        0.1: True,
        0.2: False,  # a one-frame blip: ignored
        0.3: True,
        0.4: True,
        0.5: True,  # motion starts at 0.3
        0.6: False,
        0.9: False,
        1.0: True,  # a 0.4 s pause: same span
        1.1: False,
        1.5: False,
        2.2: False,
    }  # 1.1 s quiet after 1.0: ends
    started, ended = [], []
    for t, moving in answers.items():
        s, e = tracker.update(t, moving)
        started += [s] if s else []
        ended += [e] if e else []
    assert [(s.start_s) for s in started] == [0.3]
    assert [(round(e.start_s, 2), round(e.end_s, 2)) for e in ended] == [(0.3, 1.1)]
