"""The edge camera's view: held-out images arranged as "items" held in front of the camera.

Each item is one class's test images shown for several consecutive frames, as when someone holds
a piece of trash under the camera; consecutive items are of different classes, so every item
should move the display. The frames are written to a folder in playback order (the component's
folder source reads them in name order) and stream.json records the truth of every frame.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from training_job.split import read_lst

FRAMES_PER_ITEM = 10
MIN_ITEMS_PER_CLASS = 4
STREAM_FILE = "stream.json"


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based playback position; the component's seq for it is index + 1
    item: int
    truth: str
    source: str  # the held-out image, relative to the prepared dataset


def _item_order(classes: list[str], per_class: int, rng: random.Random) -> list[str]:
    """per_class items of each class, shuffled, never the same class twice in a row."""
    remaining = dict.fromkeys(classes, per_class)
    order: list[str] = []
    while any(remaining.values()):
        choices = [c for c, left in remaining.items() if left and (not order or c != order[-1])]
        if not choices:  # only the previous class has items left: they must follow each other
            choices = [c for c, left in remaining.items() if left]
        # Favour the classes with the most left, so the tail does not end in one class repeated.
        most = max(remaining[c] for c in choices)
        pick = rng.choice([c for c in choices if remaining[c] == most])
        order.append(pick)
        remaining[pick] -= 1
    return order


def arrange(data_dir: Path, classes: list[str], seed: int, frames_per_item: int = FRAMES_PER_ITEM) -> list[Frame]:
    """The playback order of the test split: items of frames_per_item frames each."""
    by_class: dict[str, list[str]] = {c: [] for c in classes}
    for label, relative in read_lst(data_dir / "test.lst"):
        by_class[classes[label]].append(relative)
    empty = [c for c, paths in by_class.items() if not paths]
    if empty:
        raise ValueError("the test split has no images of {}".format(", ".join(empty)))
    # Enough items that every held-out image is seen at least once.
    per_class = max(MIN_ITEMS_PER_CLASS, *(-(-len(paths) // frames_per_item) for paths in by_class.values()))
    rng = random.Random(seed)
    cursor = dict.fromkeys(classes, 0)
    frames: list[Frame] = []
    for item, class_id in enumerate(_item_order(classes, per_class, rng)):
        paths = by_class[class_id]
        for _ in range(frames_per_item):
            frames.append(Frame(len(frames), item, class_id, paths[cursor[class_id] % len(paths)]))
            cursor[class_id] += 1
    return frames


def write_camera_folder(frames: list[Frame], data_dir: Path, folder: Path) -> Path:
    """Copies of the frames named in playback order, and stream.json (the truth) beside them."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for frame in frames:
        source = data_dir / frame.source
        shutil.copyfile(source, folder / f"{frame.index:05d}-item{frame.item:03d}-{frame.truth}{source.suffix}")
    truth = folder.parent / STREAM_FILE
    truth.write_text(json.dumps([asdict(f) for f in frames], indent=1) + "\n", encoding="utf-8")
    return folder
