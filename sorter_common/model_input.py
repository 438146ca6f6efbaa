"""The model's input: a 224x224 BGR frame as float32 NCHW with values 0..255.

Channel order and normalization happen inside the exported graph, so this is all an edge
runtime does and no runtime can drift from training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

INPUT_SIZE = 224
INPUT_NAME = "data"
# ImageNet statistics in RGB order, applied inside the graph (see training export).
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)


def to_model_input(bgr_frame: Any, size: int = INPUT_SIZE) -> NDArray[np.float32]:
    """HxWx3 uint8 BGR frame -> 1x3xSxS float32, resized with bilinear interpolation."""
    frame = np.asarray(bgr_frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR frame, got shape {frame.shape}")
    if frame.shape[0] != size or frame.shape[1] != size:
        frame = _resize(frame, size)
    return np.ascontiguousarray(frame.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)


def _resize(frame: NDArray[Any], size: int) -> NDArray[Any]:
    # OpenCV exists on every edge target (DeepLens, Greengrass V2 component); Pillow is the
    # fallback for laptops without it. Both are bilinear.
    try:
        import cv2

        resized: NDArray[Any] = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
        return resized
    except ImportError:
        from PIL import Image

        bilinear = getattr(Image, "Resampling", Image).BILINEAR  # Resampling is Pillow >= 9.1
        rgb = Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1]))
        return np.asarray(rgb.resize((size, size), bilinear))[:, :, ::-1]
