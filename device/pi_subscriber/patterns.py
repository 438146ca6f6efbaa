"""The 8x8 drawings: an arrow toward each bin, an amber "?" for unsure, the idle legend, the offline mark,
and the joystick's answers (a tick in a bin's colour, a "nothing to correct" cross).

A Frame is 64 (r, g, b) tuples, row by row from the top-left, the order SenseHat.set_pixels takes.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import OFFLINE_COLOUR, PATH_MARK_COLOUR, UNSURE_COLOUR, BinStyle, Colour

Frame = tuple[Colour, ...]
SIZE = 8
OFF: Colour = (0, 0, 0)

# Drawn once pointing right and once pointing up-right; the other six directions are rotations.
_ARROW_RIGHT = (
    "....#...",
    "....##..",
    "....###.",
    "########",
    "########",
    "....###.",
    "....##..",
    "....#...",
)
_ARROW_UP_RIGHT = (
    "..######",
    "...#####",
    "....####",
    "...#####",
    "..###.##",
    ".###...#",
    "###.....",
    "##......",
)
_QUESTION_MARK = (
    "..####..",
    ".##..##.",
    ".....##.",
    "....##..",
    "...##...",
    "...##...",
    "........",
    "...##...",
)
# Quarter turns counter-clockwise from the base drawing to each direction.
_TURNS = {
    "right": ("straight", 0), "up": ("straight", 1), "left": ("straight", 2), "down": ("straight", 3),
    "up-right": ("diagonal", 0), "up-left": ("diagonal", 1), "down-left": ("diagonal", 2),
    "down-right": ("diagonal", 3),
}
# Where the idle legend puts each bin's colour: two pixels on the edge toward the bin.
_EDGE_MARKS = {
    "up": ((3, 0), (4, 0)), "down": ((3, 7), (4, 7)), "left": ((0, 3), (0, 4)), "right": ((7, 3), (7, 4)),
    "up-left": ((0, 0), (1, 0)), "up-right": ((6, 0), (7, 0)),
    "down-left": ((0, 7), (1, 7)), "down-right": ((6, 7), (7, 7)),
}
_OFFLINE_MARK = ((3, 3), (4, 3), (3, 4), (4, 4))
# Which path is left when only one is (device.pi_subscriber.paths): a corner pixel each.
_PATH_MARKS = {"local": (0, 0), "cloud": (7, 0)}
# The joystick's answers: a tick in the chosen bin's colour, and a small white cross for a press
# with nothing to correct (no decision on the screen, or it was corrected already).
_TICK = (
    "........",
    ".......#",
    "......##",
    ".....##.",
    "#...##..",
    "##.##...",
    ".###....",
    "..#.....",
)
_NOTHING_MARK = ((2, 2), (5, 2), (3, 3), (4, 3), (3, 4), (4, 4), (2, 5), (5, 5))
NOTHING_COLOUR: Colour = (255, 255, 255)


def _rotate_ccw(rows: tuple[str, ...]) -> tuple[str, ...]:
    # Column x of the old drawing, read from the right, becomes row x of the new one.
    return tuple("".join(rows[y][SIZE - 1 - x] for y in range(SIZE)) for x in range(SIZE))


def _paint(rows: tuple[str, ...], colour: Colour) -> Frame:
    return tuple(colour if cell == "#" else OFF for row in rows for cell in row)


def blank() -> Frame:
    return (OFF,) * (SIZE * SIZE)


def arrow(direction: str, colour: Colour) -> Frame:
    """An arrow filling the matrix, pointing toward direction (one of config.DIRECTIONS)."""
    base, turns = _TURNS[direction]
    rows: tuple[str, ...] = _ARROW_RIGHT if base == "straight" else _ARROW_UP_RIGHT
    for _ in range(turns):
        rows = _rotate_ccw(rows)
    return _paint(rows, colour)


def question_mark(colour: Colour = UNSURE_COLOUR) -> Frame:
    return _paint(_QUESTION_MARK, colour)


def idle(bins: Mapping[str, BinStyle]) -> Frame:
    """A quiet legend: each bin's colour as two pixels on the edge toward where it stands."""
    pixels = list(blank())
    for style in bins.values():
        for x, y in _EDGE_MARKS[style.direction]:
            pixels[y * SIZE + x] = style.colour
    return tuple(pixels)


def with_offline_mark(frame: Frame) -> Frame:
    """frame with a red 2x2 mark in the centre: the camera has not been heard from."""
    pixels = list(frame)
    for x, y in _OFFLINE_MARK:
        pixels[y * SIZE + x] = OFFLINE_COLOUR
    return tuple(pixels)


def with_path_mark(frame: Frame, path: str) -> Frame:
    """frame with one magenta corner pixel: top-left, only the local path is left; top-right, only the cloud."""
    x, y = _PATH_MARKS[path]
    pixels = list(frame)
    pixels[y * SIZE + x] = PATH_MARK_COLOUR
    return tuple(pixels)


def tick(colour: Colour) -> Frame:
    """The acknowledgement of a correction: a tick in the colour of the bin it went to."""
    return _paint(_TICK, colour)


def with_nothing_mark(frame: Frame) -> Frame:
    """frame with a small white cross in the centre: the press had nothing to correct."""
    pixels = list(frame)
    for x, y in _NOTHING_MARK:
        pixels[y * SIZE + x] = NOTHING_COLOUR
    return tuple(pixels)


def dimmed(frame: Frame, factor: float = 0.25) -> Frame:
    """For renderers without hardware low-light (the terminal): scale every colour down."""
    return tuple((int(r * factor), int(g * factor), int(b * factor)) for r, g, b in frame)


def decision_frame(label: str, bins: Mapping[str, BinStyle]) -> Frame:
    """The frame for a decision: the bin's arrow, or the amber "?" for unsure and unknown labels."""
    style = bins.get(label)
    return arrow(style.direction, style.colour) if style is not None else question_mark()
