"""A small synthetic dataset: procedurally drawn trash, one folder per class, deterministic per seed.

Each class has its own kinds of objects (compost: peels, leaves, cores; landfill: crumpled
wrappers and bags; recycling: bottles and cans) drawn on backgrounds, lighting, angles and
scales that are shared by every class, so a model must look at the object to tell classes apart.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter
from tqdm import tqdm

from sorter_common.classes import DEFAULT_CLASSES, normalize_classes

Color = tuple[int, int, int]
Drawer = Callable[[ImageDraw.ImageDraw, random.Random, int], None]

DEFAULT_IMAGE_SIZE = 160
DEFAULT_PER_CLASS = 40
# Objects are drawn on a larger canvas, then rotated and scaled down: smooth edges for free.
CANVAS = 256


def _jitter(rng: random.Random, color: Color, amount: int = 25) -> tuple[int, int, int, int]:
    red, green, blue = (max(0, min(255, c + rng.randint(-amount, amount))) for c in color)
    return (red, green, blue, 255)


def _blob(
    rng: random.Random, cx: float, cy: float, radius: float, points: int, roughness: float
) -> list[tuple[float, float]]:
    """An irregular closed outline around (cx, cy)."""
    outline = []
    for i in range(points):
        angle = 2 * math.pi * i / points
        r = radius * (1 + rng.uniform(-roughness, roughness))
        outline.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return outline


# --- compost: organic shapes in warm greens, yellows and browns -------------------------------


def _draw_banana_peel(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    color = _jitter(rng, rng.choice([(225, 190, 40), (200, 160, 30), (150, 110, 30)]))
    box = (size * 0.1, size * 0.2, size * 0.9, size * 1.0)
    draw.arc(box, start=190, end=350, fill=color, width=int(size * 0.16))
    for _ in range(rng.randint(3, 7)):  # brown bruises
        x, y = rng.uniform(0.2, 0.8) * size, rng.uniform(0.25, 0.4) * size
        r = size * rng.uniform(0.02, 0.04)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_jitter(rng, (90, 60, 20)))


def _draw_leaf(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    color = _jitter(rng, rng.choice([(60, 140, 40), (100, 160, 50), (140, 120, 40)]))
    draw.ellipse((size * 0.15, size * 0.35, size * 0.85, size * 0.65), fill=color)
    draw.line((size * 0.1, size * 0.5, size * 0.85, size * 0.5), fill=_jitter(rng, (40, 80, 20)), width=4)
    for i in range(4):
        x = size * (0.3 + 0.13 * i)
        draw.line((x, size * 0.5, x + size * 0.08, size * 0.4), fill=_jitter(rng, (40, 80, 20)), width=2)
        draw.line((x, size * 0.5, x + size * 0.08, size * 0.6), fill=_jitter(rng, (40, 80, 20)), width=2)


def _draw_apple_core(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    skin = _jitter(rng, rng.choice([(150, 170, 50), (170, 120, 40)]))
    flesh = _jitter(rng, (235, 220, 170))
    draw.ellipse((size * 0.3, size * 0.15, size * 0.7, size * 0.35), fill=skin)
    draw.rectangle((size * 0.4, size * 0.3, size * 0.6, size * 0.7), fill=flesh)
    draw.ellipse((size * 0.3, size * 0.65, size * 0.7, size * 0.85), fill=skin)
    draw.line((size * 0.5, size * 0.15, size * 0.52, size * 0.05), fill=_jitter(rng, (80, 50, 20)), width=4)


def _draw_food_scraps(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    for _ in range(rng.randint(3, 6)):
        cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        color = _jitter(rng, rng.choice([(110, 75, 35), (80, 130, 40), (200, 150, 60)]))
        draw.polygon(_blob(rng, cx, cy, size * rng.uniform(0.1, 0.2), 10, 0.35), fill=color)


# --- landfill: crumpled wrappers and bags, dark or glossy and striped -------------------------


def _draw_wrapper(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    base = _jitter(rng, rng.choice([(30, 30, 35), (90, 30, 110), (70, 20, 40)]))
    outline = _blob(rng, size / 2, size / 2, size * 0.38, 14, 0.35)
    draw.polygon(outline, fill=base)
    stripe = _jitter(rng, rng.choice([(230, 30, 140), (250, 250, 250), (255, 140, 0)]))
    for _ in range(rng.randint(2, 4)):
        y = rng.uniform(0.3, 0.7) * size
        draw.line((size * 0.2, y, size * 0.8, y + rng.uniform(-20, 20)), fill=stripe, width=rng.randint(4, 9))


def _draw_bag(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    base = _jitter(rng, rng.choice([(20, 20, 20), (50, 50, 60)]), 10)
    draw.polygon(_blob(rng, size / 2, size * 0.55, size * 0.35, 12, 0.2), fill=base)
    draw.polygon([(size * 0.4, size * 0.25), (size * 0.5, size * 0.1), (size * 0.6, size * 0.25)], fill=base)
    for _ in range(5):  # creases catch the light
        x = rng.uniform(0.3, 0.7) * size
        draw.line((x, size * 0.35, x + rng.uniform(-30, 30), size * 0.8), fill=_jitter(rng, (110, 110, 120)), width=2)


def _draw_styrofoam(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    white = _jitter(rng, (245, 245, 240), 8)
    draw.rounded_rectangle((size * 0.2, size * 0.3, size * 0.8, size * 0.7), radius=int(size * 0.06), fill=white)
    draw.rectangle(
        (size * 0.25, size * 0.35, size * 0.75, size * 0.65), outline=_jitter(rng, (200, 200, 195), 8), width=3
    )
    for _ in range(3):  # food stains
        x, y = rng.uniform(0.3, 0.7) * size, rng.uniform(0.4, 0.6) * size
        draw.ellipse((x - 8, y - 6, x + 8, y + 6), fill=_jitter(rng, (170, 60, 40)))


# --- recycling: bottles and cans, blue, clear or metallic, upright outlines -------------------


def _draw_bottle(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    body = _jitter(rng, rng.choice([(60, 140, 230), (120, 200, 240), (40, 90, 220)]))
    draw.rounded_rectangle((size * 0.36, size * 0.3, size * 0.64, size * 0.92), radius=int(size * 0.08), fill=body)
    draw.polygon(
        [
            (size * 0.36, size * 0.34),
            (size * 0.45, size * 0.14),
            (size * 0.55, size * 0.14),
            (size * 0.64, size * 0.34),
        ],
        fill=body,
    )
    draw.rectangle((size * 0.44, size * 0.06, size * 0.56, size * 0.14), fill=_jitter(rng, (20, 60, 200)))
    draw.rectangle((size * 0.36, size * 0.5, size * 0.64, size * 0.64), fill=_jitter(rng, (250, 250, 250), 5))
    draw.line((size * 0.42, size * 0.35, size * 0.42, size * 0.85), fill=(255, 255, 255, 200), width=3)


def _draw_can(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    metal = _jitter(rng, (190, 195, 205), 15)
    label = _jitter(rng, rng.choice([(210, 20, 30), (20, 90, 200), (20, 160, 220)]))
    draw.rectangle((size * 0.32, size * 0.2, size * 0.68, size * 0.85), fill=label)
    draw.ellipse((size * 0.32, size * 0.14, size * 0.68, size * 0.26), fill=metal)
    draw.ellipse((size * 0.32, size * 0.79, size * 0.68, size * 0.91), fill=metal)
    for x in (0.38, 0.44):  # metallic highlights
        draw.line((size * x, size * 0.25, size * x, size * 0.82), fill=(255, 255, 255, 180), width=3)


def _draw_jar(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    glass = _jitter(rng, rng.choice([(150, 210, 230), (100, 170, 240)]))
    draw.rounded_rectangle((size * 0.3, size * 0.3, size * 0.7, size * 0.88), radius=int(size * 0.1), fill=glass)
    draw.rectangle((size * 0.33, size * 0.18, size * 0.67, size * 0.3), fill=_jitter(rng, (170, 175, 185)))
    draw.line((size * 0.38, size * 0.35, size * 0.38, size * 0.8), fill=(255, 255, 255, 200), width=4)


DRAWERS: dict[str, Sequence[Drawer]] = {
    "compost": (_draw_banana_peel, _draw_leaf, _draw_apple_core, _draw_food_scraps),
    "landfill": (_draw_wrapper, _draw_bag, _draw_styrofoam),
    "recycling": (_draw_bottle, _draw_can, _draw_jar),
}


def _generic_drawer(class_id: str) -> Drawer:
    """A configured class with no hand-made drawer: a blob whose colour and shape follow its id."""
    digest = zlib.crc32(class_id.encode("utf-8"))
    base: Color = (digest & 0xFF, (digest >> 8) & 0xFF, (digest >> 16) & 0xFF)
    points = 3 + (digest >> 24) % 6

    def draw(canvas: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
        canvas.polygon(_blob(rng, size / 2, size / 2, size * 0.35, points, 0.1), fill=_jitter(rng, base))

    return draw


def _background(rng: random.Random, size: int) -> Image.Image:
    """A table, floor or bin lid: a muted two-colour gradient with grain, the same for all classes."""
    top: Color = tuple(rng.randint(70, 210) for _ in range(3))  # type: ignore[assignment]
    bottom: Color = tuple(max(0, min(255, c + rng.randint(-60, 60))) for c in top)  # type: ignore[assignment]
    gradient = Image.linear_gradient("L").resize((size, size))
    image = Image.composite(Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), gradient)
    # Grain from our own generator: PIL's effect_noise uses the C library's unseeded rand().
    noise = np.random.RandomState(rng.getrandbits(32)).normal(128, rng.uniform(5, 25), (size, size))
    grain = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).convert("RGB")
    return Image.blend(image, grain, 0.15)


def draw_image(class_id: str, rng: random.Random, size: int = DEFAULT_IMAGE_SIZE) -> Image.Image:
    """One RGB picture of an object of this class on a random background."""
    drawers = DRAWERS.get(class_id) or (_generic_drawer(class_id),)
    layer = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    rng.choice(drawers)(ImageDraw.Draw(layer), rng, CANVAS)
    layer = layer.rotate(rng.uniform(-180, 180), resample=Image.Resampling.BICUBIC)
    scale = rng.uniform(0.55, 1.0)
    object_size = max(8, int(size * scale))
    layer = layer.resize((object_size, object_size), Image.Resampling.BILINEAR)
    image = _background(rng, size)
    offset = size - object_size
    image.paste(layer, (rng.randint(0, offset), rng.randint(0, offset)), layer)
    # Lighting: brightness and a colour cast, plus a little blur as from a cheap camera.
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.25))
    cast = Image.new("RGB", (size, size), (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
    image = Image.blend(image, cast, rng.uniform(0.0, 0.08))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.8)))


def write_sample(
    out_dir: Path,
    classes: Sequence[str] = DEFAULT_CLASSES,
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = 0,
    size: int = DEFAULT_IMAGE_SIZE,
    progress: bool = True,
) -> dict[str, int]:
    """Write per_class JPEGs into out_dir/<class>/; returns the count per class."""
    class_ids = normalize_classes(classes)
    jobs = [(class_id, index) for class_id in class_ids for index in range(per_class)]
    for class_id in class_ids:
        (out_dir / class_id).mkdir(parents=True, exist_ok=True)
    for class_id, index in tqdm(jobs, desc="sample", unit="img", disable=not progress):
        # A string seed per image: each picture is reproducible on its own, whatever per_class is.
        rng = random.Random(f"{seed}:{class_id}:{index}")
        draw_image(class_id, rng, size).save(out_dir / class_id / f"{class_id}-{index:04d}.jpg", quality=92)
    return {class_id: per_class for class_id in class_ids}
