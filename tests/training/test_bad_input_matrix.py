"""Bad input, as a careless user or an attacker gives it, one row per case.

Each row: the input (built in a fresh folder), the exit status, the one line the user sees
(`error: ...`, or a `problem: ...` line when the command reports the file and goes on), and
the check that nothing was lost: every file the user had is still there, unchanged, and every
object in the bucket (moto) too. `...` in an expected line stands for any text.
"""

# ruff: noqa: E501  (each expected line is kept whole, as the user sees it)
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from tests.training.hostile import patch_member, png_bomb, zip_bomb
from training.cli import main
from training_job.split import SPLITS, read_lst

BUCKET = "deeplens-matrix"
# What the bucket holds before every row: models, prepared data, edge artifacts, two datasets.
BUCKET_OBJECTS = {
    "models/run-1/model.tar.gz": b"model",
    "prepared/kitchen/train.lst": b"0\t0.0\timages/compost/a.jpg\n",
    "evaluation/run-1/evaluation.json": b"{}",
    "edge/component/1.0.0/model.tar.gz": b"edge",
    "datasets/kitchen/compost/a.jpg": b"\xff\xd8kitchen",
    "datasets/kitchen/_READY": b"",
    "datasets/garage/landfill/b.jpg": b"\xff\xd8garage",
}


@dataclass
class Ctx:
    """What a row builds its input from."""

    tmp: Path
    user: Path  # everything under here belongs to the user and must survive
    sample: Path
    request: pytest.FixtureRequest
    env: pytest.MonkeyPatch

    def dataset(self, name: str = "src") -> Path:
        """A copy of the generated sample (3 classes x 12 images) among the user's files."""
        folder = self.user / name
        shutil.copytree(self.sample, folder)
        return folder

    def zipped(self, extra: dict[str, bytes], name: str = "trash.zip") -> Path:
        """The sample as a zip under one top folder, plus extra members."""
        path = self.user / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for image in sorted(self.sample.rglob("*.jpg")):
                archive.write(image, f"TrashImages/{image.relative_to(self.sample).as_posix()}")
            for member, data in extra.items():
                archive.writestr(member, data)
        return path

    def model(self) -> Path:
        demo: Path = self.request.getfixturevalue("demo_model")
        return demo

    def data(self) -> Path:
        """A copy of the demo model's prepared dataset among the user's files."""
        folder = self.user / "data"
        shutil.copytree(self.model().parent.parent / "data", folder)
        return folder

    def no_credentials(self) -> None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            self.env.delenv(name, raising=False)
        self.env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(self.tmp / "no-credentials"))
        self.env.setenv("AWS_CONFIG_FILE", str(self.tmp / "no-config"))


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Ctx], list[str]]  # makes the input, returns the command line
    exit: int
    line: str  # the error line, or one of the problem lines; {user} and {tmp} are filled in
    moto: bool = False  # run against the moto bucket (else AWS is unreachable or unconfigured)
    check: Callable[[Ctx], None] | None = None  # anything else that must hold afterwards


def _image(color: tuple[int, int, int] = (20, 160, 40), size: int = 64) -> Image.Image:
    return Image.new("RGB", (size, size), color)


def _jpeg(color: tuple[int, int, int] = (20, 160, 40)) -> bytes:
    import io

    buffer = io.BytesIO()
    _image(color).save(buffer, "JPEG")
    return buffer.getvalue()


# --- prepare: where it writes -------------------------------------------------------------------


def out_inside_src(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    return ["prepare", str(src), str(src / "prepared")]


def src_inside_out(ctx: Ctx) -> list[str]:
    # The case: `prepare P/images P` deleted every source photo.
    project = ctx.user / "P"
    shutil.copytree(ctx.sample, project / "images")
    return ["prepare", str(project / "images"), str(project)]


def out_is_src(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    return ["prepare", str(src), str(src)]


def out_holds_user_photos(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    (ctx.user / "photos" / "images" / "holiday").mkdir(parents=True)
    (ctx.user / "photos" / "images" / "holiday" / "beach.jpg").write_bytes(_jpeg())
    return ["prepare", str(src), str(ctx.user / "photos")]


def rerun_keeps_a_file_prepare_did_not_write(ctx: Ctx) -> list[str]:
    src, out = ctx.dataset(), ctx.tmp / "out"
    assert main(["prepare", str(src), str(out)]) == 0
    (out / "images" / "compost" / "mine.jpg").write_bytes(_jpeg((1, 2, 3)))
    (out / "notes.txt").write_text("my notes\n")
    (src / "compost" / "mine.jpg").write_bytes(_jpeg((200, 100, 0)))  # the same name, now in the source too
    # The re-run has one class fewer: the first run's landfill images must go, the user's files stay.
    return ["prepare", str(src), str(out), "--classes", "compost,recycling"]


def _rerun_replaced_only_its_own(ctx: Ctx) -> None:
    out = ctx.tmp / "out"
    assert (out / "images" / "compost" / "mine.jpg").read_bytes() == _jpeg((1, 2, 3))
    assert (out / "notes.txt").read_text() == "my notes\n"
    assert not (out / "images" / "landfill").exists(), "the first run's landfill images are gone"
    lst_paths = {relative for split in SPLITS for _, relative in read_lst(out / f"{split}.lst")}
    assert len(lst_paths) == 25 and all((out / relative).is_file() for relative in lst_paths)
    assert any(path.startswith("images/compost/mine-") for path in lst_paths)  # the source's, renamed


def out_under_a_file(ctx: Ctx) -> list[str]:
    (ctx.user / "notes.txt").write_text("my notes\n")
    return ["prepare", str(ctx.dataset()), str(ctx.user / "notes.txt" / "out")]


# --- prepare: hostile zips ------------------------------------------------------------------------


def _zip_with_damaged_member(ctx: Ctx, **patch: int) -> list[str]:
    path = ctx.zipped({"TrashImages/compost/evil.jpg": _jpeg()})
    patch_member(path, "TrashImages/compost/evil.jpg", **patch)
    return ["prepare", str(path), str(ctx.tmp / "out")]


def zip_corrupt_crc(ctx: Ctx) -> list[str]:
    return _zip_with_damaged_member(ctx, crc=0x12345678)


def zip_encrypted_member(ctx: Ctx) -> list[str]:
    return _zip_with_damaged_member(ctx, flags=0x1)  # APPNOTE 4.4.4: bit 0, the member is encrypted


def zip_unsupported_method(ctx: Ctx) -> list[str]:
    return _zip_with_damaged_member(ctx, method=99)  # APPNOTE 4.4.5: 99 is AE-x (WinZip AES)


def zip_file_folder_clash(ctx: Ctx) -> list[str]:
    path = ctx.zipped({"TrashImages/compost/x.jpg": _jpeg(), "TrashImages/compost/x.jpg/y.jpg": _jpeg((9, 9, 9))})
    return ["prepare", str(path), str(ctx.tmp / "out")]


def zip_long_name(ctx: Ctx) -> list[str]:
    path = ctx.zipped({"TrashImages/compost/" + "n" * 300 + ".jpg": _jpeg()})
    return ["prepare", str(path), str(ctx.tmp / "out")]


def zip_slip(ctx: Ctx) -> list[str]:
    path = ctx.zipped({"../../escaped.jpg": _jpeg()})
    return ["prepare", str(path), str(ctx.tmp / "out")]


def zip_not_a_zip(ctx: Ctx) -> list[str]:
    path = ctx.zipped({})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30])  # the end of central directory record cut off
    return ["prepare", str(path), str(ctx.tmp / "out")]


def zip_bomb_1gib(ctx: Ctx) -> list[str]:
    return ["prepare", str(zip_bomb(ctx.user / "bomb.zip")), str(ctx.tmp / "out")]


def _nothing_unpacked(ctx: Ctx) -> None:
    assert not (ctx.tmp / "out").exists() or not any((ctx.tmp / "out").rglob("*.jpg"))


# --- prepare: hostile images and names ----------------------------------------------------------


def png_decompression_bomb(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    png_bomb(src / "compost" / "bomb.png")
    return ["prepare", str(src), str(ctx.tmp / "out")]


def png_over_the_pixel_limit(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    png_bomb(src / "compost" / "big.png", side=10000)  # 100 Mpx: over the limit, under twice it
    return ["prepare", str(src), str(ctx.tmp / "out")]


def _format_case(image_format: str, suffix: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        src = ctx.dataset()
        _image().save(src / "recycling" / f"can.{suffix}", image_format)
        return ["prepare", str(src), str(ctx.tmp / "out")]

    return build


def names_with_line_breaks(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    for index, name in enumerate(("tab\there.jpg", "new\nline.jpg", "para\u2028sep.jpg", "cr\rhere.jpg")):
        (src / "compost" / name).write_bytes(_jpeg((index * 40, 10, 200)))
    return ["prepare", str(src), str(ctx.tmp / "out")]


def _lst_rows_name_real_files(ctx: Ctx) -> None:
    out = ctx.tmp / "out"
    rows = [row for split in SPLITS for row in read_lst(out / f"{split}.lst")]
    assert len(rows) == 40 and all((out / relative).is_file() for _, relative in rows)
    assert all(len(relative.splitlines()) == 1 and "\t" not in relative for _, relative in rows)


SECRET = b"[default]\naws_secret_access_key = do-not-upload\n"


def _secret(ctx: Ctx) -> Path:
    (ctx.user / "home" / ".aws").mkdir(parents=True, exist_ok=True)
    secret = ctx.user / "home" / ".aws" / "credentials"
    secret.write_bytes(SECRET)
    return secret


def link_to_credentials(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    (src / "compost" / "n.jpg").symlink_to(_secret(ctx))
    return ["prepare", str(src), str(ctx.tmp / "out")]


def linked_class_folder(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    elsewhere = ctx.user / "elsewhere"
    shutil.move(str(src / "recycling"), elsewhere)
    (src / "recycling").symlink_to(elsewhere, target_is_directory=True)
    return ["prepare", str(src), str(ctx.tmp / "out")]


def fifo_in_a_class(ctx: Ctx) -> list[str]:
    src = ctx.dataset()
    os.mkfifo(src / "compost" / "pipe.jpg")  # opening it would block prepare forever
    return ["prepare", str(src), str(ctx.tmp / "out")]


def _secret_not_copied(ctx: Ctx) -> None:
    copied = [p for p in (ctx.tmp / "out").rglob("*") if p.is_file() and SECRET in p.read_bytes()]
    assert copied == []


# --- upload --------------------------------------------------------------------------------------


def _upload_dir(ctx: Ctx) -> Path:
    folder = ctx.user / "kitchen"
    (folder / "compost").mkdir(parents=True)
    (folder / "compost" / "a.jpg").write_bytes(_jpeg())
    return folder


def delete_without_prefix(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}", "--delete"]


def delete_outside_datasets(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/models", "--delete"]


def delete_whole_datasets_prefix(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets", "--delete"]


def delete_from_empty_dir(ctx: Ctx) -> list[str]:
    (ctx.user / "empty").mkdir()
    return ["upload", str(ctx.user / "empty"), f"s3://{BUCKET}/datasets/kitchen", "--delete", "--ready"]


def delete_from_imageless_dir(ctx: Ctx) -> list[str]:
    (ctx.user / "notes").mkdir()
    (ctx.user / "notes" / "todo.txt").write_text("sort the bins\n")
    return ["upload", str(ctx.user / "notes"), f"s3://{BUCKET}/datasets/kitchen", "--delete"]


def ready_bad_dataset_name(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets/my_set", "--ready"]


def ready_nested_prefix(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets/kitchen/v2", "--ready"]


def ready_on_prepare_output(ctx: Ctx) -> list[str]:
    out = ctx.user / "prepared"
    assert main(["prepare", str(ctx.dataset()), str(out)]) == 0
    return ["upload", str(out), f"s3://{BUCKET}/datasets/kitchen", "--ready"]


def upload_link_to_credentials(ctx: Ctx) -> list[str]:
    folder = _upload_dir(ctx)
    (folder / "compost" / "n.jpg").symlink_to(_secret(ctx))
    return ["upload", str(folder), f"s3://{BUCKET}/datasets/porch"]


def _secret_not_uploaded(ctx: Ctx) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "datasets/porch/compost/a.jpg" in keys and "datasets/porch/compost/n.jpg" not in keys
    assert all(SECRET not in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys)


def upload_missing_bucket(ctx: Ctx) -> list[str]:
    return ["upload", str(_upload_dir(ctx)), "s3://deeplens-no-such-bucket/datasets/kitchen"]


def upload_no_credentials(ctx: Ctx) -> list[str]:
    ctx.no_credentials()
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets/kitchen", "--dry-run"]


def upload_unknown_profile(ctx: Ctx) -> list[str]:
    ctx.no_credentials()
    ctx.env.setenv("AWS_PROFILE", "nosuchprofile")
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets/kitchen"]


def upload_no_network(ctx: Ctx) -> list[str]:
    ctx.env.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # the discard port: nothing listens
    ctx.env.setenv("AWS_MAX_ATTEMPTS", "1")
    return ["upload", str(_upload_dir(ctx)), f"s3://{BUCKET}/datasets/kitchen"]


# --- pipeline ------------------------------------------------------------------------------------


def pipeline_no_region(ctx: Ctx) -> list[str]:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        ctx.env.delenv(name, raising=False)
    ctx.env.setenv("AWS_CONFIG_FILE", str(ctx.tmp / "no-config"))
    return ["pipeline", "start"]


def pipeline_no_credentials(ctx: Ctx) -> list[str]:
    ctx.no_credentials()
    return ["pipeline", "--region", "eu-west-1", "status"]


# --- evaluate ------------------------------------------------------------------------------------


def _rebuilt(ctx: Ctx, name: str, change: Callable[[str, bytes], bytes]) -> Path:
    """The demo model.tar.gz with its members changed by change(name, data)."""
    import io

    target = ctx.user / name
    with tarfile.open(ctx.model(), "r:gz") as source, tarfile.open(target, "w:gz", compresslevel=1) as output:
        for member in source.getmembers():
            data = change(member.name, source.extractfile(member).read())  # type: ignore[union-attr]
            member.size = len(data)
            output.addfile(member, io.BytesIO(data))
    return target


def _evaluate(ctx: Ctx, model: Path, runtime: str = "onnx", data: Path | None = None) -> list[str]:
    return ["evaluate", str(model), str(data or ctx.data()), str(ctx.tmp / "eval"), "--runtime", runtime]


def model_not_gzip(ctx: Ctx) -> list[str]:
    (ctx.user / "model.tar.gz").write_text("not a model\n")
    return _evaluate(ctx, ctx.user / "model.tar.gz")


def model_truncated(ctx: Ctx) -> list[str]:
    data = ctx.model().read_bytes()
    (ctx.user / "model.tar.gz").write_bytes(data[: len(data) // 2])
    return _evaluate(ctx, ctx.user / "model.tar.gz")


def model_json_not_object(ctx: Ctx) -> list[str]:
    return _evaluate(ctx, _rebuilt(ctx, "model.tar.gz", lambda n, d: b"[1, 2, 3]" if n == "model.json" else d))


def model_corrupt_onnx(ctx: Ctx) -> list[str]:
    return _evaluate(ctx, _rebuilt(ctx, "model.tar.gz", lambda n, d: d[:100] if n.endswith(".onnx") else d))


def model_corrupt_params(ctx: Ctx) -> list[str]:
    corrupt = _rebuilt(ctx, "model.tar.gz", lambda n, d: d[: len(d) // 3] if n.endswith(".params") else d)
    return _evaluate(ctx, corrupt, runtime="mxnet")


def dataset_without_labels(ctx: Ctx) -> list[str]:
    data = ctx.data()
    (data / "labels.txt").unlink()
    return _evaluate(ctx, ctx.model(), data=data)


def model_with_more_classes(ctx: Ctx) -> list[str]:
    import json

    def four_classes(name: str, data: bytes) -> bytes:
        if name == "labels.txt":
            return b"compost\nglass\nlandfill\nrecycling\n"
        if name == "model.json":
            info = json.loads(data)
            info["classes"] = ["compost", "glass", "landfill", "recycling"]
            return json.dumps(info).encode()
        return data

    return _evaluate(ctx, _rebuilt(ctx, "model.tar.gz", four_classes))


CASES = [
    # prepare never deletes what it did not write
    Case(
        "prepare-out-inside-src",
        out_inside_src,
        2,
        "error: output {user}/src/prepared must not be inside the source {user}/src; choose a folder outside it",
    ),
    Case(
        "prepare-src-inside-out",
        src_inside_out,
        2,
        "error: output {user}/P must not contain the source {user}/P/images; choose a folder outside it",
    ),
    Case("prepare-out-is-src", out_is_src, 2, "error: output {user}/src must not be inside the source {user}/src; ..."),
    Case(
        "prepare-out-holds-user-photos",
        out_holds_user_photos,
        2,
        "error: output {user}/photos already holds files that prepare did not write (no manifest.json); choose a new or empty folder",
    ),
    Case(
        "prepare-rerun-keeps-foreign-files",
        rerun_keeps_a_file_prepare_did_not_write,
        0,
        "prepared {tmp}/out: ...; 1 problem(s)",
        check=_rerun_replaced_only_its_own,
    ),
    Case(
        "prepare-out-under-a-file",
        out_under_a_file,
        2,
        "error: cannot use {user}/notes.txt/out: Not a directory",
    ),
    # hostile zips: one problem line per member, or one error line for the whole zip
    Case(
        "zip-corrupt-crc",
        zip_corrupt_crc,
        0,
        "problem: trash.zip:TrashImages/compost/evil.jpg: corrupt in the zip (Bad CRC-32 for file 'TrashImages/compost/evil.jpg')",
    ),
    Case(
        "zip-encrypted-member",
        zip_encrypted_member,
        0,
        "problem: trash.zip:TrashImages/compost/evil.jpg: encrypted in the zip; zip it again without a password",
    ),
    Case(
        "zip-unsupported-compression",
        zip_unsupported_method,
        0,
        "problem: trash.zip:TrashImages/compost/evil.jpg: compressed with zip method 99, which cannot be read; zip it again (deflate)",
    ),
    Case(
        "zip-file-folder-clash",
        zip_file_folder_clash,
        0,
        "problem: trash.zip:TrashImages/compost/x.jpg/y.jpg: a file and a folder have the same name in the zip; rename one",
    ),
    Case(
        "zip-name-over-255-bytes",
        zip_long_name,
        0,
        "problem: trash.zip:TrashImages/compost/nnn...nnn.jpg: a name in its path is longer than 255 bytes; rename it",
    ),
    Case(
        "zip-slip",
        zip_slip,
        2,
        "error: zip member '../../escaped.jpg' points outside the archive; refusing to extract",
        check=_nothing_unpacked,
    ),
    Case("zip-truncated", zip_not_a_zip, 2, "error: source {user}/trash.zip is neither a folder nor a .zip file"),
    Case(
        "zip-bomb-1mb-to-1gib",
        zip_bomb_1gib,
        2,
        "error: {user}/bomb.zip would expand to 1073741824 bytes, over the limit for a zip of its size (at most 100 times its own size and at most 8 GiB); unpack it yourself if you trust it, or raise --zip-limit",
        check=_nothing_unpacked,
    ),
    # hostile images and names: reported per file, the rest prepared
    Case(
        "png-20000x20000-bomb",
        png_decompression_bomb,
        0,
        "problem: compost/bomb.png: image too large (a decompression bomb; at most 89478485 pixels)",
    ),
    Case(
        "png-10000x10000",
        png_over_the_pixel_limit,
        0,
        "problem: compost/big.png: image too large (10000x10000; at most 89478485 pixels)",
    ),
    Case(
        "gif",
        _format_case("GIF", "gif"),
        0,
        "problem: recycling/can.gif: GIF images cannot be read by training; convert it to JPEG or PNG",
    ),
    Case(
        "ico",
        _format_case("ICO", "ico"),
        0,
        "problem: recycling/can.ico: ICO images cannot be read by training; convert it to JPEG or PNG",
    ),
    Case(
        "pcx",
        _format_case("PCX", "pcx"),
        0,
        "problem: recycling/can.pcx: PCX images cannot be read by training; convert it to JPEG or PNG",
    ),
    Case(
        "tga",
        _format_case("TGA", "tga"),
        0,
        "problem: recycling/can.tga: TGA images cannot be read by training; convert it to JPEG or PNG",
    ),
    Case(
        "names-with-tab-newline-separators",
        names_with_line_breaks,
        0,
        "prepared {tmp}/out: ...; 0 problem(s)",
        check=_lst_rows_name_real_files,
    ),
    Case(
        "prepare-link-to-credentials",
        link_to_credentials,
        0,
        "problem: compost/n.jpg: link to outside the dataset folder, not followed",
        check=_secret_not_copied,
    ),
    Case(
        "prepare-linked-class-folder",
        linked_class_folder,
        2,
        "error: not enough usable images: recycling has 0 (at least 5 per class); see {tmp}/out/problems.txt",
    ),
    Case("prepare-fifo", fifo_in_a_class, 0, "problem: compost/pipe.jpg: not a regular file"),
    # upload: --delete and --ready act on one dataset with images; AWS errors are one line
    Case(
        "upload-delete-bucket-root",
        delete_without_prefix,
        2,
        "error: --delete deletes only inside one dataset, s3://<bucket>/datasets/<name>, the name letters, digits and inner hyphens; 'the bucket root' is not one",
        moto=True,
    ),
    Case(
        "upload-delete-models",
        delete_outside_datasets,
        2,
        "error: --delete deletes only inside one dataset, ...; 'models' is not one",
        moto=True,
    ),
    Case(
        "upload-delete-all-datasets",
        delete_whole_datasets_prefix,
        2,
        "error: --delete deletes only inside one dataset, ...; 'datasets' is not one",
        moto=True,
    ),
    Case(
        "upload-delete-ready-empty-dir",
        delete_from_empty_dir,
        2,
        "error: {user}/empty holds no images; refusing --delete and --ready (it would leave the dataset empty)",
        moto=True,
    ),
    Case(
        "upload-delete-imageless-dir",
        delete_from_imageless_dir,
        2,
        "error: {user}/notes holds no images; refusing --delete (it would leave the dataset empty)",
        moto=True,
    ),
    Case(
        "upload-ready-bad-name",
        ready_bad_dataset_name,
        2,
        "error: --ready starts the training pipeline only for one dataset, ...; 'datasets/my_set' is not one",
        moto=True,
    ),
    Case(
        "upload-ready-nested",
        ready_nested_prefix,
        2,
        "error: --ready starts the training pipeline only for one dataset, ...; 'datasets/kitchen/v2' is not one",
        moto=True,
    ),
    Case(
        "upload-ready-prepare-output",
        ready_on_prepare_output,
        2,
        "error: {user}/prepared is prepare's output, but the pipeline prepares the dataset itself: upload the folder of class folders instead",
        moto=True,
    ),
    Case(
        "upload-link-to-credentials",
        upload_link_to_credentials,
        0,
        "problem: compost/n.jpg: link to outside the dataset folder, not followed",
        moto=True,
        check=_secret_not_uploaded,
    ),
    Case(
        "upload-missing-bucket",
        upload_missing_bucket,
        2,
        "error: bucket 'deeplens-no-such-bucket' does not exist: deploy the TrashSorterData stack, or check the name",
        moto=True,
    ),
    Case(
        "upload-no-credentials-dry-run",
        upload_no_credentials,
        2,
        "error: no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE",
    ),
    Case(
        "upload-unknown-profile",
        upload_unknown_profile,
        2,
        "error: AWS profile 'nosuchprofile' is not in your AWS config: run `aws configure --profile nosuchprofile` or pick another",
    ),
    Case(
        "upload-no-network",
        upload_no_network,
        2,
        "error: cannot reach AWS at http://127.0.0.1:9/deeplens-matrix...: check the network connection and any proxy settings",
    ),
    # pipeline
    Case(
        "pipeline-no-region",
        pipeline_no_region,
        2,
        "error: no AWS region: pass --region, set AWS_DEFAULT_REGION, or set a region in your profile (aws configure)",
    ),
    Case(
        "pipeline-no-credentials",
        pipeline_no_credentials,
        2,
        "error: no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE",
    ),
    # evaluate: one line per broken model or dataset, never a traceback or a silent 0%
    Case(
        "evaluate-not-gzip",
        model_not_gzip,
        2,
        "error: {user}/model.tar.gz is not a model.tar.gz (not a gzip-compressed tar: not a gzip file)",
    ),
    Case(
        "evaluate-truncated",
        model_truncated,
        2,
        "error: {user}/model.tar.gz is truncated or corrupt (...); copy or export it again",
    ),
    Case(
        "evaluate-model-json-not-object",
        model_json_not_object,
        2,
        "error: {user}/model.tar.gz: model.json is not a JSON object",
    ),
    Case(
        "evaluate-corrupt-onnx",
        model_corrupt_onnx,
        2,
        "error: {user}/model.tar.gz: onnx cannot load the model files (...); the archive is corrupt, export it again",
    ),
    Case(
        "evaluate-corrupt-params",
        model_corrupt_params,
        2,
        "error: {user}/model.tar.gz: mxnet cannot load the model files (...); the archive is corrupt, export it again",
    ),
    Case(
        "evaluate-no-labels-txt",
        dataset_without_labels,
        2,
        "error: {user}/data has no labels.txt, so its labels cannot be matched to the model's classes; prepare it with `python -m training prepare`",
    ),
    Case(
        "evaluate-model-has-more-classes",
        model_with_more_classes,
        2,
        "error: the model was trained on ['compost', 'glass', 'landfill', 'recycling'] but {user}/data holds ['compost', 'landfill', 'recycling']: evaluate a dataset prepared with the model's classes",
    ),
]


def _files(folder: Path) -> dict[str, str]:
    """Every file and link under folder: its content hash (links: their target), not following links."""
    tree: dict[str, str] = {}
    for current, _, names in os.walk(folder):
        for name in names:
            path = Path(current) / name
            key = path.relative_to(folder).as_posix()
            if path.is_symlink():
                tree[key] = "link:" + os.readlink(path)
            elif path.is_file():
                tree[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


def _objects(s3: Any) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {entry["Key"]: entry["ETag"] for page in pages for entry in page.get("Contents", [])}


def _matches(expected: str, line: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, line) is not None


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # each row's environment, not a cached session
    yield


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(
    case: Case,
    tmp_path: Path,
    sample_dir: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    aws_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = Ctx(tmp=tmp_path, user=tmp_path / "user", sample=sample_dir, request=request, env=monkeypatch)
    ctx.user.mkdir()
    mock = mock_aws() if case.moto else None
    if mock is not None:
        mock.start()
    try:
        s3 = boto3.client("s3", region_name="us-east-1") if mock is not None else None
        if s3 is not None:
            s3.create_bucket(Bucket=BUCKET)
            for key, body in BUCKET_OBJECTS.items():
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        argv = case.build(ctx)
        user_before = _files(ctx.user)
        bucket_before = _objects(s3) if s3 is not None else {}
        capsys.readouterr()

        code = main(argv)

        captured = capsys.readouterr()
        err = captured.err.splitlines()
        expected = case.line.format(user=ctx.user, tmp=ctx.tmp)
        if case.exit:
            assert code == case.exit and len(err) == 1 and err[0].startswith("error: "), err
            assert _matches(expected, err[0]), f"{err[0]!r} is not {expected!r}"
        else:
            assert code == 0, err
            seen = [line for line in err if line.startswith("problem: ")] + captured.out.splitlines()
            assert any(_matches(expected, line) for line in seen), f"{expected!r} not in {seen}"
        # Nothing lost: every file the user had is still there, unchanged, and so is the bucket.
        user_after = _files(ctx.user)
        assert {key: user_after.get(key) for key in user_before} == user_before
        if s3 is not None:
            after = _objects(s3)
            assert {key: after.get(key) for key in bucket_before} == bucket_before
        if case.check is not None:
            case.check(ctx)
    finally:
        if mock is not None:
            mock.stop()
