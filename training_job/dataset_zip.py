"""A dataset .zip unpacked defensively: what cannot be unpacked is a per-member problem, not a crash.

A zip is untrusted input. Members that escape the target (zip slip) refuse the whole archive;
a zip that would expand beyond a limit is refused before anything is written, and the bytes
actually written are counted too, since a member's declared size can lie. A corrupt,
encrypted, unreadable, clashing, linked or over-long member is skipped with a reason.
"""

from __future__ import annotations

import lzma
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from training_job.errors import UsageError

GIB = 1024**3
# What a dataset zip may expand to, at most: a photo dataset compresses hardly at all (JPEG is
# compressed already), so a zip growing more than this many times is a zip bomb...
MAX_EXPANSION_RATIO = 100
# ...and, whatever its ratio, no zip may expand to more than this (overridable with --zip-limit).
DEFAULT_MAX_UNZIPPED_BYTES = 8 * GIB
# Most file systems refuse a longer name (a path component), in bytes.
MAX_NAME_BYTES = 255
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class MemberProblem:
    name: str
    reason: str


def limit_for(archive_size: int, max_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES) -> int:
    """The most bytes a zip of archive_size bytes may expand to."""
    return min(max_bytes, MAX_EXPANSION_RATIO * max(archive_size, 1))


def describe_limit(max_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES) -> str:
    return f"at most {MAX_EXPANSION_RATIO} times its own size and at most {max_bytes / GIB:g} GiB"


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return name.startswith(("/", "\\")) or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _precheck(member: zipfile.ZipInfo) -> str | None:
    """Why member cannot be unpacked, judged from its header alone, or None."""
    if not PurePosixPath(member.filename).parts:  # zipfile cuts a name at its first NUL
        return "has no usable name in the zip"
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in PurePosixPath(member.filename).parts):
        return f"a name in its path is longer than {MAX_NAME_BYTES} bytes; rename it"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "a link inside the zip, not followed"
    if member.flag_bits & 0x1:
        return "encrypted in the zip; zip it again without a password"
    if member.compress_type not in _READABLE_METHODS:
        return f"compressed with zip method {member.compress_type}, which cannot be read; zip it again (deflate)"
    return None


def extract(source: Path, target: Path, max_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES) -> list[MemberProblem]:
    """Unpack source into target; returns the members skipped and why. Raises UsageError for the whole zip."""
    limit = limit_for(source.stat().st_size, max_bytes)
    try:
        archive = zipfile.ZipFile(source)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        ValueError,
        EOFError,
        IndexError,
    ) as error:
        raise UsageError(f"{source} is not a readable zip ({error})") from None
    with archive:
        members = archive.infolist()
        for member in members:
            if _escapes(member.filename):
                raise UsageError(f"zip member {member.filename!r} points outside the archive; refusing to extract")
        declared = sum(member.file_size for member in members)
        if declared > limit:
            raise UsageError(_too_big(source, declared, max_bytes))
        problems: list[MemberProblem] = []
        seen: set[str] = set()
        written = 0
        for member in members:
            name = member.filename
            if name.endswith("/"):  # a folder entry (ZipInfo.is_dir() fails on an empty name)
                continue
            reason = _precheck(member)
            if reason is None and name in seen:
                reason = "appears twice in the zip; the first copy is kept"
            if reason is not None:
                problems.append(MemberProblem(name, reason))
                continue
            seen.add(name)
            try:
                written = _copy_member(archive, member, target, written, limit)
            except _TooBig:
                raise UsageError(_too_big(source, written, max_bytes, lied=True)) from None
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError) as error:  # bad CRC, header or stream
                problems.append(MemberProblem(name, f"corrupt in the zip ({error})"))
            except (NotImplementedError, RuntimeError, EOFError, ValueError) as error:
                problems.append(MemberProblem(name, f"cannot be read from the zip ({error})"))
            except (NotADirectoryError, IsADirectoryError, FileExistsError):
                problems.append(MemberProblem(name, "a file and a folder have the same name in the zip; rename one"))
            except OSError as error:
                problems.append(MemberProblem(name, f"cannot be unpacked ({error.strerror or error})"))
    return problems


class _TooBig(Exception):
    pass


def _copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, written: int, limit: int) -> int:
    destination = target.joinpath(*PurePosixPath(member.filename).parts)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "xb") as sink:  # "x": never over a file already unpacked
        try:
            with archive.open(member) as source:
                for chunk in iter(lambda: source.read(_CHUNK), b""):
                    written += len(chunk)
                    if written > limit:
                        raise _TooBig()
                    sink.write(chunk)
        except BaseException:
            os.unlink(destination)  # a half-written member is not data
            raise
    return written


def _too_big(source: Path, size: int, max_bytes: int, lied: bool = False) -> str:
    how = "expands to more than" if lied else "would expand to"
    return (
        f"{source} {how} {size} bytes, over the limit for a zip of its size ({describe_limit(max_bytes)}); "
        "unpack it yourself if you trust it, or raise --zip-limit"
    )
