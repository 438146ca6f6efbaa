"""Pretrained weights without the retired zoo host; every image trains; SageMaker's `--name value`."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import boto3
import mxnet as mx
import numpy as np
import pytest
from moto import mock_aws
from mxnet.gluon.model_zoo import vision

from training import cli
from training_job import data, pretrained, train
from training_job.files import sha256_of
from training_job.train_config import config_from_args

BUCKET = "deeplens-weights-test"


def _zoo_file(path: Path, architecture: str = "resnet18_v1") -> Path:
    net = vision.get_model(architecture, pretrained=False)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.save_parameters(str(path))
    return path


def _torchvision_safetensors(path: Path) -> dict[str, Any]:
    """A ResNet-18 state dict in torchvision's names, written as safetensors (as the hub serves it)."""
    rng = np.random.default_rng(0)
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7), "fc.weight": (1000, 512), "fc.bias": (1000,)}

    def bn(prefix: str, channels: int) -> None:
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{leaf}"] = (channels,)

    bn("bn1", 64)
    inputs = 64
    for layer, channels in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            prefix = f"layer{layer}.{block}"
            block_in = inputs if block == 0 else channels
            shapes[f"{prefix}.conv1.weight"] = (channels, block_in, 3, 3)
            shapes[f"{prefix}.conv2.weight"] = (channels, channels, 3, 3)
            bn(f"{prefix}.bn1", channels)
            bn(f"{prefix}.bn2", channels)
            if block == 0 and layer > 1:
                shapes[f"{prefix}.downsample.0.weight"] = (channels, inputs, 1, 1)
                bn(f"{prefix}.downsample.1", channels)
        inputs = channels
    tensors = {name: rng.standard_normal(shape).astype("<f4") for name, shape in shapes.items()}
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    body = b""
    for name, array in tensors.items():
        offsets = [len(body), len(body) + array.nbytes]
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": offsets}
        body += array.tobytes()
    header["bn1.num_batches_tracked"] = {"dtype": "I64", "shape": [], "data_offsets": [len(body), len(body) + 8]}
    body += struct.pack("<q", 7)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + body)
    return tensors


def test_torchvision_weights_map_onto_the_gluon_resnet(tmp_path: Path) -> None:
    tensors = _torchvision_safetensors(tmp_path / "model.safetensors")
    out = tmp_path / "out.params"
    assert cli.main(["weights", "--from-file", str(tmp_path / "model.safetensors"), "--out", str(out)]) == 0
    net = pretrained.load_backbone("resnet18", out, [mx.cpu()])
    np.testing.assert_array_equal(net.features[0].weight.data().asnumpy(), tensors["conv1.weight"])
    np.testing.assert_array_equal(net.features[1].gamma.data().asnumpy(), tensors["bn1.weight"])
    block = net.features[5][0]  # layer2.0: the first block with a projection shortcut
    np.testing.assert_array_equal(block.body[3].weight.data().asnumpy(), tensors["layer2.0.conv2.weight"])
    np.testing.assert_array_equal(
        block.downsample[1].running_var.data().asnumpy(), tensors["layer2.0.downsample.1.running_var"]
    )
    # Deterministic: the same source gives the same bytes, so the pinned sha256 stays valid.
    again = tmp_path / "again.params"
    assert cli.main(["weights", "--from-file", str(tmp_path / "model.safetensors"), "--out", str(again)]) == 0
    assert sha256_of(out) == sha256_of(again)


def test_weights_upload_to_the_pretrained_prefix_with_the_sha256_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _zoo_file(tmp_path / "resnet18_v1-a0666292.params")  # an old ~/.mxnet/models file
    digest = sha256_of(source)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        assert cli.main(["weights", f"s3://{BUCKET}", "--from-file", str(source), "--expect-sha256", digest]) == 0
        stored = s3.get_object(Bucket=BUCKET, Key="pretrained/resnet18_v1.params")
        assert stored["Body"].read() == source.read_bytes()  # a Gluon file is kept byte for byte
        assert stored["Metadata"]["sha256"] == digest
    out = capsys.readouterr().out
    assert f"pretrainedWeightsSha256={digest}" in out


def test_weights_refuse_a_wrong_layout_or_checksum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong_network = _zoo_file(tmp_path / "resnet34.params", "resnet34_v1")
    assert cli.main(["weights", "--from-file", str(wrong_network), "--out", str(tmp_path / "x")]) == cli.USAGE_EXIT
    assert "is not a Gluon resnet18_v1 weights file" in capsys.readouterr().err
    right = _zoo_file(tmp_path / "resnet18.params")
    arguments = ["weights", "--from-file", str(right), "--out", str(tmp_path / "y"), "--expect-sha256", "0" * 64]
    assert cli.main(arguments) == cli.USAGE_EXIT
    assert "not the expected" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def _parse(arguments: list[str]) -> Any:
    import argparse

    from training_job.train_config import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(arguments)


def test_the_train_step_checks_the_channel_against_the_pinned_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = tmp_path / "pretrained"
    channel.mkdir()
    monkeypatch.setenv("SM_CHANNEL_PRETRAINED", str(channel))
    base = [str(tmp_path / "data"), str(tmp_path / "model")]
    with pytest.raises(pretrained.PretrainedWeightsError, match=r"run `python -m training weights"):
        config_from_args(_parse(base))
    weights = _zoo_file(channel / "resnet18_v1.params")
    with pytest.raises(pretrained.PretrainedWeightsError, match="not pinned"):
        config_from_args(_parse(base))
    with pytest.raises(pretrained.PretrainedWeightsError, match="not the pinned"):
        config_from_args(_parse([*base, "--pretrained-sha256", "f" * 64]))
    pinned = config_from_args(_parse([*base, "--pretrained-sha256", sha256_of(weights)]))
    assert pinned.pretrained_weights == weights


def test_a_local_run_without_weights_says_what_to_pass_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SM_CHANNEL_PRETRAINED", "SM_MODEL_DIR", "SM_TRAINING_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert train.main([str(tmp_path), str(tmp_path / "model")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--pretrained-weights FILE" in err and "--no-pretrained" in err
    assert "Traceback" not in err


def test_sagemaker_style_arguments_reach_train_as_the_toolkit_passes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sagemaker_training.mapping.to_cmd_args: every hyperparameter as `--name value`, sorted.
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(tmp_path / "data"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    hyperparameters = {"epochs": 2, "batch-size": 8, "pretrained": "false", "progress": "false", "downscale": 4}
    argv = [part for name in sorted(hyperparameters) for part in (f"--{name}", str(hyperparameters[name]))]
    config = config_from_args(_parse(argv))
    assert (config.data_dir, config.model_dir) == (tmp_path / "data", tmp_path / "model")
    assert (config.progress, config.pretrained, config.downscale, config.batch_size) == (False, False, 4, 8)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 7, 32])
def test_every_batch_size_trains_every_image_each_epoch(batch_size: int) -> None:
    class Images:
        def __init__(self) -> None:
            self.labels = [index % 3 for index in range(10)]
            self.images = [np.full((8, 8, 3), index, np.uint8) for index in range(10)]

        def __len__(self) -> int:
            return 10

    seen: list[int] = []
    sizes = []
    for batch, _ in data.iterate_batches(Images(), batch_size, 8, random.Random(0), train=True):  # type: ignore[arg-type]
        sizes.append(len(batch))
    order = list(range(10))
    random.Random(0).shuffle(order)
    for chunk in data.batch_indices(order, batch_size):
        seen += chunk
    assert sorted(seen) == list(range(10)) and sum(sizes) == 10
    assert len(sizes) == data.batch_count(10, batch_size)
    assert batch_size == 1 or min(sizes) >= 2  # no lone image where BatchNorm needs a batch


def test_the_hub_download_is_checked_against_the_declared_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib
    import http.server
    import threading

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # the stand-in hub is on loopback
    _torchvision_safetensors(tmp_path / "model.safetensors")
    body = (tmp_path / "model.safetensors").read_bytes()
    declared = {"sha256": hashlib.sha256(body).hexdigest()}

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("X-Linked-Etag", f'"{declared["sha256"]}"')  # as the Hugging Face Hub sends it
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/model.safetensors"
        monkeypatch.setitem(pretrained.HUB_SOURCES, "resnet18", url)
        assert cli.main(["weights", "--out", str(tmp_path / "hub.params")]) == 0
        pretrained.load_backbone("resnet18", tmp_path / "hub.params", [mx.cpu()])
        declared["sha256"] = "0" * 64  # what arrived is not what the hub declares
        assert cli.main(["weights", "--out", str(tmp_path / "bad.params")]) == cli.USAGE_EXIT
        assert "other than the hub declares" in capsys.readouterr().err
        assert not (tmp_path / "bad.params").exists()
    finally:
        server.shutdown()
    server.server_close()
    unreachable = "http://127.0.0.1:9/model.safetensors"
    monkeypatch.setitem(pretrained.HUB_SOURCES, "resnet18", unreachable)
    assert cli.main(["weights", "--out", str(tmp_path / "none.params")]) == cli.USAGE_EXIT
    assert "pass --from-file" in capsys.readouterr().err


def test_mobilenet_weights_import_from_a_gluon_file_and_say_so_without_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _zoo_file(tmp_path / "cache.params", "mobilenetv2_1.0")
    out = tmp_path / "out" / "mobilenetv2_1.0.params"
    arguments = ["weights", "--architecture", "mobilenetv2_1.0", "--from-file", str(source), "--out", str(out)]
    assert cli.main(arguments) == 0
    assert out.read_bytes() == source.read_bytes()
    assert f"sha256 {sha256_of(out)}" in capsys.readouterr().out
    # A ResNet file is not MobileNet's layout; no file at all names --from-file (nothing is mapped yet).
    resnet = _zoo_file(tmp_path / "resnet18.params")
    assert (
        cli.main(["weights", "--arch", "mobilenetv2_1.0", "--from-file", str(resnet), "--out", str(tmp_path / "x")])
        == cli.USAGE_EXIT
    )
    assert "is not a Gluon mobilenetv2_1.0 weights file" in capsys.readouterr().err
    assert cli.main(["weights", "--arch", "mobilenetv2_1.0", "--out", str(tmp_path / "y")]) == cli.USAGE_EXIT
    err = capsys.readouterr().err
    assert "--from-file" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
