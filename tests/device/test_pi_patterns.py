"""The 8x8 drawings: arrows toward each direction, the "?", the idle legend, the offline mark."""

from __future__ import annotations

import pytest

from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS, DIRECTIONS, OFFLINE_COLOUR, UNSURE_COLOUR, BinStyle

RED = (255, 0, 0)


def lit(frame: patterns.Frame) -> set[tuple[int, int]]:
    return {(i % 8, i // 8) for i, colour in enumerate(frame) if colour != patterns.OFF}


def centre_of_mass(frame: patterns.Frame) -> tuple[float, float]:
    points = lit(frame)
    return (sum(x for x, _ in points) / len(points) - 3.5, sum(y for _, y in points) / len(points) - 3.5)


# The arrow head holds most of the pixels, so the drawing leans toward where it points.
LEANS = {
    "right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1),
    "up-right": (1, -1), "up-left": (-1, -1), "down-left": (-1, 1), "down-right": (1, 1),
}


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_each_arrow_leans_toward_its_direction(direction: str) -> None:
    frame = patterns.arrow(direction, RED)
    assert len(frame) == 64 and set(frame) == {RED, patterns.OFF}
    dx, dy = centre_of_mass(frame)
    want_x, want_y = LEANS[direction]
    for got, want in ((dx, want_x), (dy, want_y)):
        if want == 0:
            assert abs(got) < 0.01
        else:
            assert got * want > 0.2


def test_the_eight_arrows_are_all_different_and_opposites_are_point_mirrors() -> None:
    frames = {d: patterns.arrow(d, RED) for d in DIRECTIONS}
    assert len(set(frames.values())) == 8
    for one, other in (("left", "right"), ("up", "down"), ("up-left", "down-right"), ("up-right", "down-left")):
        assert lit(frames[other]) == {(7 - x, 7 - y) for x, y in lit(frames[one])}


def test_right_arrow_pixels() -> None:
    rows = ["".join("#" if (x, y) in lit(patterns.arrow("right", RED)) else "." for x in range(8)) for y in range(8)]
    assert rows == ["....#...", "....##..", "....###.", "########", "########", "....###.", "....##..", "....#..."]


def test_question_mark_is_amber_with_a_separate_dot() -> None:
    frame = patterns.question_mark()
    assert set(frame) == {UNSURE_COLOUR, patterns.OFF}
    assert {(3, 7), (4, 7)} <= lit(frame) and not {(x, 6) for x in range(8)} & lit(frame)


def test_idle_legend_marks_each_bin_edge_in_its_colour() -> None:
    frame = patterns.idle(DEFAULT_BINS)
    assert frame[3 * 8 + 0] == frame[4 * 8 + 0] == DEFAULT_BINS["recycling"].colour  # left edge
    assert frame[7 * 8 + 3] == frame[7 * 8 + 4] == DEFAULT_BINS["compost"].colour  # bottom edge
    assert frame[3 * 8 + 7] == DEFAULT_BINS["landfill"].colour  # right edge
    assert len(lit(frame)) == 6
    corner = patterns.idle({"glass": BinStyle((1, 2, 3), "up-right")})
    assert lit(corner) == {(6, 0), (7, 0)}


def test_offline_mark_overlays_the_centre_only() -> None:
    base = patterns.arrow("left", (0, 0, 200))
    marked = patterns.with_offline_mark(base)
    changed = {i for i in range(64) if marked[i] != base[i]}
    assert {(i % 8, i // 8) for i in changed} <= {(3, 3), (4, 3), (3, 4), (4, 4)}
    assert all(marked[y * 8 + x] == OFFLINE_COLOUR for x, y in ((3, 3), (4, 3), (3, 4), (4, 4)))


def test_decision_frame_and_dimming() -> None:
    assert patterns.decision_frame("landfill", DEFAULT_BINS) == patterns.arrow("right", (140, 140, 140))
    assert patterns.decision_frame("unsure", DEFAULT_BINS) == patterns.question_mark()
    assert set(patterns.dimmed(patterns.question_mark())) == {(63, 37, 0), (0, 0, 0)}
