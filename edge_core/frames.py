"""Frame sources: where BGR frames come from (the DeepLens camera, a V4L2 camera, a list of images)."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

if TYPE_CHECKING:
    from numpy.typing import NDArray


class FrameError(RuntimeError):
    """No usable frame this time; the loop counts it and carries on."""


class FrameSource(abc.ABC):
    @abc.abstractmethod
    def read(self) -> NDArray[Any]:
        """The newest HxWx3 uint8 BGR frame, or FrameError."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release the camera; the default has nothing to release."""


def check_frame(frame: Optional[NDArray[Any]]) -> NDArray[Any]:
    if frame is None or getattr(frame, "ndim", 0) != 3 or frame.shape[2] != 3 or frame.size == 0:
        raise FrameError("not an HxWx3 frame: {!r}".format(getattr(frame, "shape", frame)))
    return frame


class AwscamFrameSource(FrameSource):
    """awscam.getLastFrame() -> (ret, frame): the DeepLens camera's newest frame."""

    def __init__(self) -> None:
        import awscam

        self._awscam = awscam

    def read(self) -> NDArray[Any]:
        ret, frame = self._awscam.getLastFrame()
        if not ret:
            raise FrameError("awscam.getLastFrame() returned no frame")
        return check_frame(frame)


class OpenCvFrameSource(FrameSource):
    """A camera OpenCV can open (V4L2 index or URL), for devices other than a DeepLens."""

    def __init__(self, camera: Union[int, str] = 0) -> None:
        import cv2

        self._capture = cv2.VideoCapture(camera)
        if not self._capture.isOpened():
            raise FrameError(f"cannot open camera {camera!r}")

    def read(self) -> NDArray[Any]:
        ok, frame = self._capture.read()
        if not ok:
            raise FrameError("the camera returned no frame")
        return check_frame(frame)

    def close(self) -> None:
        self._capture.release()


class IterableFrameSource(FrameSource):
    """Frames from any iterable (images on disk, a test's list); FrameError when it runs out."""

    def __init__(self, frames: Iterable[NDArray[Any]]) -> None:
        self._frames: Iterator[NDArray[Any]] = iter(frames)

    def read(self) -> NDArray[Any]:
        try:
            return check_frame(next(self._frames))
        except StopIteration:
            raise FrameError("no more frames") from None
