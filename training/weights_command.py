"""`python -m training weights`: put ImageNet-pretrained backbone weights where training finds them.

Fetched once from the Hugging Face Hub (torchvision's weights as timm publishes them; see
training_job/pretrained.py) or imported from a local file (a Gluon zoo .params file, or a torchvision
ResNet .safetensors), checked to load into the Gluon network, then written to --out and/or
uploaded to s3://deeplens-.../pretrained/<network>.params. It prints the file's sha256: pin it in
cdk.json (pretrainedWeightsSha256) so every Train step checks it before use.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

from sorter_common.bucket_layout import PRETRAINED_PREFIX
from sorter_common.training_pipeline import ARCHITECTURES, DEFAULT_ARCHITECTURE, pretrained_weights_file
from training.cli import Command, register
from training_job.errors import UsageError
from training_job.files import sha256_of

DOWNLOAD_TIMEOUT_SECONDS = 120


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "destination", metavar="S3_URI", nargs="?", help="s3://deeplens-<name> (the file goes under pretrained/)"
    )
    parser.add_argument("--architecture", "--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCHITECTURE)
    parser.add_argument(
        "--from-file",
        type=Path,
        metavar="FILE",
        help="import this file (Gluon .params, or torchvision .safetensors) instead of downloading",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the Gluon weights file here")
    parser.add_argument("--expect-sha256", metavar="HEX", help="refuse a result whose sha256 differs")


def _download(url: str) -> bytes:
    """The hub file; its own declared sha256 (X-Linked-Etag) must match what arrived."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data: bytes = response.read()
            declared = (response.headers.get("X-Linked-Etag") or "").strip('"')
    except (urllib.error.URLError, OSError) as error:
        raise UsageError(f"cannot download {url}: {error}; download it elsewhere and pass --from-file") from None
    if declared and len(declared) == 64 and hashlib.sha256(data).hexdigest() != declared:
        raise UsageError(f"{url} arrived with a sha256 other than the hub declares ({declared}); try again")
    return data


def gluon_weights(architecture: str, source: Path | None, workdir: Path) -> Path:
    """A Gluon zoo-layout weights file for architecture, from source or the hub, layout checked."""
    import mxnet as mx

    from training_job import pretrained

    target = workdir / pretrained_weights_file(architecture)
    if source is not None and not source.is_file():
        raise UsageError(f"--from-file {source}: no such file")
    if source is not None and source.suffix != ".safetensors":
        target.write_bytes(source.read_bytes())  # a Gluon file is kept byte for byte
    else:
        if source is None and architecture not in pretrained.HUB_SOURCES:
            raise UsageError(
                f"no maintained source maps exactly onto Gluon's {ARCHITECTURES[architecture]}: "
                "pass a Gluon .params file with --from-file"
            )
        data = source.read_bytes() if source is not None else _download(pretrained.HUB_SOURCES[architecture])
        tensors = pretrained.torchvision_to_gluon(pretrained.read_safetensors(data))
        pretrained.write_gluon_file(tensors, target)
    pretrained.load_backbone(architecture, target, [mx.cpu()])  # missing, extra or misshapen: refused
    return target


def _run(args: argparse.Namespace) -> int:
    from training.upload import SHA256_METADATA, parse_s3_uri

    if not args.destination and not args.out:
        raise UsageError("say where the weights go: an s3://deeplens-<name> URI, --out FILE, or both")
    bucket = parse_s3_uri(args.destination)[0] if args.destination else None
    with tempfile.TemporaryDirectory(prefix="trash-sorter-weights-") as scratch:
        weights = gluon_weights(args.architecture, args.from_file, Path(scratch))
        digest = sha256_of(weights)
        if args.expect_sha256 and digest != args.expect_sha256.lower():
            raise UsageError(f"the weights' sha256 is {digest}, not the expected {args.expect_sha256}; refused")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(weights.read_bytes())
            print(f"wrote {args.out}")
        if bucket:
            import boto3

            key = PRETRAINED_PREFIX + weights.name
            boto3.client("s3").upload_file(
                str(weights), bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA: digest}}
            )
            print(f"uploaded s3://{bucket}/{key}")
    print(f"sha256 {digest}")
    print(f'pin it: "pretrainedWeightsSha256": "{digest}" in cdk.json')
    print(f"(or for one deploy: cdk deploy -c pretrainedWeightsSha256={digest})")
    return 0


register(Command("weights", "fetch or import ImageNet-pretrained weights into pretrained/", _configure, _run))
