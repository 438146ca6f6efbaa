"""Images from a prepared folder into batches: BGR float32 NCHW 0..255, as the edge sends them.

Training batches get augmentation (random resized crop, flip, colour jitter); evaluation
batches get only the edge's own resize (sorter_common.model_input), so training and the
edge see frames the same way.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import cv2
import numpy as np

from sorter_common.model_input import to_model_input
from training_job.split import read_lst

if TYPE_CHECKING:  # numpy.typing needs numpy 1.20+, which the MXNet container may not have
    from numpy.typing import NDArray


def read_bgr(path: Path) -> NDArray[Any]:
    """Decode an image file as HxWx3 uint8 BGR, the layout camera frames have."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image {path}")
    return image


def random_resized_crop(
    image: NDArray[Any], size: int, rng: random.Random, scale: tuple[float, float] = (0.5, 1.0)
) -> NDArray[Any]:
    """A random area (and aspect ratio 3/4..4/3) of the image, resized to size x size."""
    height, width = image.shape[:2]
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*scale)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        crop_w = round(math.sqrt(target * ratio))
        crop_h = round(math.sqrt(target / ratio))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            x = rng.randint(0, width - crop_w)
            y = rng.randint(0, height - crop_h)
            image = image[y : y + crop_h, x : x + crop_w]
            break
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)


def color_jitter(image: NDArray[Any], rng: random.Random, strength: float = 0.3) -> NDArray[Any]:
    """Brightness, contrast and saturation jitter on a BGR image (float32 result)."""
    out = image.astype(np.float32)
    out *= 1.0 + rng.uniform(-strength, strength)  # brightness
    mean = out.mean()
    out = (out - mean) * (1.0 + rng.uniform(-strength, strength)) + mean  # contrast
    # Luma weights in BGR order: saturation moves each pixel toward or away from its grey.
    gray = out @ np.array([0.114, 0.587, 0.299], dtype=np.float32)
    out = (out - gray[..., None]) * (1.0 + rng.uniform(-strength, strength)) + gray[..., None]
    clipped: NDArray[Any] = np.clip(out, 0.0, 255.0)
    return clipped


def augment(image: NDArray[Any], size: int, rng: random.Random) -> NDArray[Any]:
    """One training view of a BGR image -> 3xSxS float32 BGR 0..255."""
    view = random_resized_crop(color_jitter(image, rng), size, rng)  # jitter first: fewer pixels
    if rng.random() < 0.5:
        view = view[:, ::-1]
    return np.ascontiguousarray(view.transpose(2, 0, 1))


def evaluation_view(image: NDArray[Any], size: int) -> NDArray[Any]:
    """The edge's view of a frame (plain bilinear resize) -> 3xSxS float32 BGR 0..255."""
    batch: NDArray[Any] = to_model_input(image, size)
    frame: NDArray[Any] = batch[0]
    return frame


class LabelledImages:
    """The images of one split (a .lst file under a prepared folder), decoded once and kept in memory.

    The sample data and a typical recycling dataset are a few thousand small images, so
    keeping them decoded (at most max_side pixels) is cheaper than decoding every epoch.
    """

    def __init__(self, root: Path, lst_file: str, max_side: int = 320) -> None:
        rows = read_lst(root / lst_file)
        self.labels: list[int] = [label for label, _ in rows]
        self.paths: list[Path] = [root / relative for _, relative in rows]
        self.images: list[NDArray[Any]] = [_shrink(read_bgr(path), max_side) for path in self.paths]

    def __len__(self) -> int:
        return len(self.labels)


def _shrink(image: NDArray[Any], max_side: int) -> NDArray[Any]:
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    factor = max_side / max(height, width)
    return cv2.resize(image, (max(1, int(width * factor)), max(1, int(height * factor))), interpolation=cv2.INTER_AREA)


def iterate_batches(
    data: LabelledImages,
    batch_size: int,
    size: int,
    rng: random.Random,
    train: bool,
) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
    """(images NxCxSxS float32, labels N float32) batches; shuffled and augmented when train."""
    order = list(range(len(data)))
    if train:
        rng.shuffle(order)
    for chosen in batch_indices(order, batch_size):
        views = [augment(data.images[i], size, rng) if train else evaluation_view(data.images[i], size) for i in chosen]
        labels = np.array([data.labels[i] for i in chosen], dtype=np.float32)
        yield np.stack(views), labels


def batch_indices(order: Sequence[int], batch_size: int) -> list[list[int]]:
    """Every index in batches of batch_size, so each image trains every epoch. A lone image left
    at the end joins the batch before it (a batch of one gives BatchNorm no batch statistics),
    unless batch_size is 1, where every batch is one image by request."""
    batches = [list(order[start : start + batch_size]) for start in range(0, len(order), batch_size)]
    if batch_size > 1 and len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def batch_count(images: int, batch_size: int) -> int:
    return len(batch_indices(range(images), batch_size))


def class_weights(labels: Sequence[int], num_classes: int) -> NDArray[Any]:
    """Loss weight per class, inversely proportional to its frequency (mean weight 1)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    counts[counts == 0] = 1.0
    weights = counts.sum() / (num_classes * counts)
    result: NDArray[Any] = weights.astype(np.float32)
    return result
