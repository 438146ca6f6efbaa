"""Frame sources from the component configuration: camera index or device, stream URL, video file, image folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_core.frames import FrameError, FrameSource, OpenCvFrameSource, check_frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_URL = re.compile(r"^(rtsp|rtsps|http|https)://", re.IGNORECASE)


class EndOfFrames(FrameError):
    """A finite source (folder, video file) has no more frames and does not loop."""


class FolderFrameSource(FrameSource):
    """Every image of a folder, in name order; optionally from the start again at the end."""

    def __init__(self, folder: Path, loop: bool = False) -> None:
        self._paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise FrameError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {folder}")
        self._loop = loop
        self._next = 0

    def read(self) -> Any:
        import cv2

        if self._next >= len(self._paths):
            if not self._loop:
                raise EndOfFrames("the folder has no more images")
            self._next = 0
        path = self._paths[self._next]
        self._next += 1
        frame = cv2.imread(str(path))
        if frame is None:
            raise FrameError(f"cannot read image {path}")
        return check_frame(frame)


class VideoFileSource(FrameSource):
    """A video file through OpenCV, which reports its end as a failed read."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        self._path = path
        self._loop = loop
        self._camera = OpenCvFrameSource(str(path))

    def read(self) -> Any:
        try:
            return self._camera.read()
        except FrameError:
            if not self._loop:
                raise EndOfFrames(f"end of {self._path}") from None
            self._camera.close()
            self._camera = OpenCvFrameSource(str(self._path))
            return self._camera.read()

    def close(self) -> None:
        self._camera.close()


@dataclass(frozen=True)
class SourceSpec:
    """What to open and whether it is live (a camera or stream: old frames are worth dropping)."""

    kind: str  # camera, stream, video, folder
    target: str
    live: bool


def parse_source(text: str) -> SourceSpec:
    value = text.strip()
    if value.isdigit():
        return SourceSpec("camera", value, live=True)
    if value.startswith("/dev/video"):
        return SourceSpec("camera", value, live=True)
    if _URL.match(value):
        return SourceSpec("stream", value, live=True)
    path = Path(value).expanduser()
    if path.is_dir():
        return SourceSpec("folder", str(path), live=False)
    if path.is_file():
        return SourceSpec("video", str(path), live=False)
    raise ValueError(
        f"frame source {text!r} is not a camera index or /dev/video device, an rtsp/http URL, "
        "an existing video file or an existing folder of images"
    )


def open_source(spec: SourceSpec, loop: bool = False) -> FrameSource:
    """Opens the source; FrameError when it cannot be opened (the caller retries)."""
    if spec.kind == "camera":
        return OpenCvFrameSource(int(spec.target) if spec.target.isdigit() else spec.target)
    if spec.kind == "stream":
        return OpenCvFrameSource(spec.target)
    if spec.kind == "folder":
        return FolderFrameSource(Path(spec.target), loop)
    return VideoFileSource(Path(spec.target), loop)
