"""Property-based tests of the parsers that take untrusted files: dataset zips, model archives,
.lst manifests and the names written into them. Hypothesis tries the cases no one listed."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sorter_common.artifact import ARTIFACT_FILES, LABELS_FILE, MODEL_INFO_FILE
from training_job import archive, dataset_zip
from training_job.errors import UsageError
from training_job.files import printable, safe_file_name
from training_job.split import read_lst, write_lst

HYPOTHESIS_SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Names as archivers write them: any characters (controls, separators, '..', backslashes, long runs).
name_part = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12) | st.sampled_from(
    ["..", ".", "compost", "a" * 300, "x\\..\\y", "tab\there", "line\u2028break"]
)
# (zipfile cannot write a name that starts with NUL; the test below writes one by hand.)
member_name = st.lists(name_part, min_size=1, max_size=3).map("/".join).filter(lambda name: name[0] != "\x00")
# Content both incompressible and compressible, so damage lands in stored bytes and in deflate codes.
content = st.binary(max_size=300) | st.tuples(st.binary(min_size=1, max_size=8), st.integers(1, 400)).map(
    lambda pair: pair[0] * pair[1]
)
methods = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
member = st.tuples(member_name, content, methods)
# A damage to the archive bytes: (fraction of the way in, byte to xor with).
damage = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=4)


def _zip_bytes(members: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as output:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": duplicates are part of the input
        for name, data, method in members:
            output.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def _damaged(data: bytes, damages: list[tuple[float, int]]) -> bytes:
    changed = bytearray(data)
    for where, xor in damages:
        changed[int(where * len(changed))] ^= xor
    return bytes(changed)


def _all_inside(folder: Path) -> bool:
    real = os.path.realpath(folder)
    for current, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(current, name)
            if os.path.islink(path) or not os.path.realpath(path).startswith(real + os.sep):
                return False
    return True


def test_a_member_name_starting_with_nul_is_a_member_problem(tmp_path: Path) -> None:
    data = _zip_bytes([("Xcompost.jpg", b"x", zipfile.ZIP_STORED)]).replace(b"Xcompost.jpg", b"\x00compost.jpg")
    (tmp_path / "data.zip").write_bytes(data)
    (tmp_path / "out").mkdir()
    problems = dataset_zip.extract(tmp_path / "data.zip", tmp_path / "out")
    assert [(p.name, p.reason) for p in problems] == [("", "has no usable name in the zip")]


def test_a_damaged_deflate_stream_is_a_member_problem(tmp_path: Path) -> None:
    data = bytearray(_zip_bytes([("compost/a.txt", b"hello world " * 1000, zipfile.ZIP_DEFLATED)]))
    start = 30 + len("compost/a.txt")  # APPNOTE 4.3.7: the local header is 30 bytes and the name
    for offset in range(start, start + 20):
        data[offset] ^= 0xFF
    (tmp_path / "out").mkdir()
    (tmp_path / "data.zip").write_bytes(bytes(data))
    problems = dataset_zip.extract(tmp_path / "data.zip", tmp_path / "out")
    assert [(p.name, p.reason.split(" (")[0]) for p in problems] == [("compost/a.txt", "corrupt in the zip")]
    assert list((tmp_path / "out").rglob("*.txt")) == []


@HYPOTHESIS_SETTINGS
@given(st.lists(member, max_size=6), damage)
def test_any_zip_unpacks_inside_the_target_or_fails_with_one_usage_error(
    members: list[tuple[str, bytes, int]], damages: list[tuple[float, int]]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "data.zip", Path(scratch) / "out"
        target.mkdir()
        source.write_bytes(_damaged(_zip_bytes(members), damages))
        try:
            problems = dataset_zip.extract(source, target)
        except UsageError as error:
            assert "\n" not in str(error)
            problems = []
        assert _all_inside(target)
        assert all("\n" not in problem.reason for problem in problems)
        written = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
        assert written <= dataset_zip.limit_for(source.stat().st_size)


@HYPOTHESIS_SETTINGS
@given(st.lists(member, max_size=6, unique_by=lambda m: m[0]))
def test_every_member_of_an_undamaged_zip_is_unpacked_intact_or_reported(members: list[tuple[str, bytes, int]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "data.zip", Path(scratch) / "out"
        target.mkdir()
        source.write_bytes(_zip_bytes(members))
        with zipfile.ZipFile(source) as archive_file:
            stored = {info.filename: archive_file.read(info) for info in archive_file.infolist() if not info.is_dir()}
        try:
            problems = dataset_zip.extract(source, target)
        except UsageError:
            return  # the whole zip refused (a name escaping it, or over the expansion limit)
        reported = {problem.name for problem in problems}
        for name, data in stored.items():
            if name not in reported:
                assert target.joinpath(*Path(name).parts).read_bytes() == data, name


classes = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), min_size=0, max_size=4, unique=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
model_json = st.one_of(
    classes.map(lambda ids: json.dumps({"classes": ids, "version": "abc"}).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),
)


def _model_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as output:
        for name, data in files.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            output.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


@HYPOTHESIS_SETTINGS
@given(
    st.sets(st.sampled_from(ARTIFACT_FILES)),
    model_json,
    classes,
    damage,
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_any_model_archive_unpacks_consistently_or_fails_with_one_line(
    present: set[str], info: bytes, labels: list[str], damages: list[tuple[float, int]], cut: float | None
) -> None:
    files = {name: b"weights" for name in present}
    if MODEL_INFO_FILE in present:
        files[MODEL_INFO_FILE] = info
    if LABELS_FILE in present:
        files[LABELS_FILE] = "".join(label + "\n" for label in labels).encode()
    data = _damaged(_model_tar(files), damages)
    if cut is not None:
        data = data[: int(cut * len(data))]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.tar.gz"
        path.write_bytes(data)
        try:
            result = archive.unpack(path, Path(scratch) / "out")
        except archive.ModelArchiveError as error:
            assert "\n" not in str(error) and str(path) in str(error)
            return
        # Accepted: then it is complete and consistent, as evaluate and the edge rely on.
        assert isinstance(result, dict) and len(result["classes"]) >= 2
        assert result["classes"] == (Path(scratch) / "out" / LABELS_FILE).read_text().split()
        assert all((Path(scratch) / "out" / name).is_file() for name in ARTIFACT_FILES)


@HYPOTHESIS_SETTINGS
@given(st.lists(st.tuples(st.integers(0, 50), st.text(min_size=1, max_size=60)), max_size=8))
def test_lst_rows_written_from_safe_names_read_back_exactly(rows: list[tuple[int, str]]) -> None:
    safe = [(label, "images/c/" + safe_file_name(name)) for label, name in rows]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "train.lst"
        write_lst(path, safe)
        assert read_lst(path) == safe


@given(st.text(max_size=400))
def test_safe_names_and_printable_text_stay_on_one_line(text: str) -> None:
    name = safe_file_name(text)
    assert "\t" not in name and len(name.splitlines()) <= 1 and len(name.encode()) <= 200
    shown = printable(text)
    assert "\t" not in shown and len(shown.splitlines()) <= 1
