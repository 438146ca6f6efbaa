"""Pictures of the 8x8 LED matrix as read back from sense_emu, big enough for a person to see."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

Colour = tuple[int, int, int]
LedFrame = Sequence[Colour]

SIZE = 8
LED_PX = 24  # one LED becomes a 24x24 square...
GAP_PX = 4  # ...with a dark gap around it, like the real board
BOARD: Colour = (24, 24, 24)
CAPTION_PX = 34
TEXT: Colour = (235, 235, 235)


def render(frame: LedFrame, caption: Sequence[str] = ()) -> Image.Image:
    """One matrix, LEDs that are off drawn in a dim grey so the grid stays visible."""
    side = SIZE * LED_PX + (SIZE + 1) * GAP_PX
    image = Image.new("RGB", (side, side + (CAPTION_PX if caption else 0)), BOARD)
    draw = ImageDraw.Draw(image)
    for index, colour in enumerate(frame):
        row, column = divmod(index, SIZE)
        x = GAP_PX + column * (LED_PX + GAP_PX)
        y = GAP_PX + row * (LED_PX + GAP_PX)
        shown = colour if any(colour) else (48, 48, 48)
        draw.rounded_rectangle((x, y, x + LED_PX - 1, y + LED_PX - 1), radius=4, fill=shown)
    for line, text in enumerate(caption[:2]):
        draw.text((GAP_PX, side + 2 + line * 15), text, fill=TEXT)
    return image


def save(frame: LedFrame, path: Path, caption: Sequence[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    render(frame, caption).save(path)
    return path


def save_strip(images: Sequence[Path], path: Path, per_row: int = 10) -> Path | None:
    """The decisions side by side in playback order, per_row to a row."""
    if not images:
        return None
    tiles = [Image.open(p).convert("RGB") for p in images]
    width, height = tiles[0].size
    rows = -(-len(tiles) // per_row)
    columns = min(per_row, len(tiles))
    strip = Image.new("RGB", (columns * (width + GAP_PX) + GAP_PX, rows * (height + GAP_PX) + GAP_PX), (0, 0, 0))
    for index, tile in enumerate(tiles):
        row, column = divmod(index, per_row)
        strip.paste(tile, (GAP_PX + column * (width + GAP_PX), GAP_PX + row * (height + GAP_PX)))
    strip.save(path)
    return path


def lit_pixels(frame: LedFrame) -> int:
    return sum(1 for colour in frame if any(colour))
