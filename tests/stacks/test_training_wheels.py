"""The training code bundle, as `cdk synth` packs it, carries the pinned wheels; in the MXNet image's
Python 3.8 (.venv-image, no onnxruntime in it) they bring onnxruntime, and the export quantizes with it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from stacks.constructs.deeplens_bundle import BundleError
from stacks.training_pipeline.source_bundle import WHEELS_DOWNLOAD_DIR, WHEELS_REQUIREMENTS, pinned_wheels, wheel_files
from tests.stacks.synth import SynthesizedApp

ROOT = Path(__file__).resolve().parents[2]
IMAGE_PYTHON = ROOT / ".venv-image" / "bin" / "python"


def synthesized_source_bundle(outdir: Path) -> Path:
    """The training stack's sourcedir.tar.gz asset in the cloud assembly."""
    found = []
    for path in sorted(outdir.glob("asset.*")):
        if path.is_file() and tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                if "training_job/train.py" in archive.getnames():
                    found.append(path)
    assert len(found) == 1, f"expected one training code bundle in {outdir}, found {found}"
    return found[0]


def test_the_synthesized_bundle_carries_exactly_the_pinned_wheels(
    synthesized_app: SynthesizedApp, project_root: Path
) -> None:
    with tarfile.open(synthesized_source_bundle(synthesized_app.outdir)) as archive:
        wheels = {
            member.name: hashlib.sha256(archive.extractfile(member).read()).hexdigest()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.name.startswith("wheels/")
        }
    pins = pinned_wheels(project_root)
    assert "onnxruntime==1.10.0" in pins  # the last onnxruntime for the image's numpy 1.19
    shipped = {}
    for name, digest in wheels.items():
        distribution, version = Path(name).name.split("-")[:2]
        shipped[f"{distribution}=={version}"] = digest
    assert set(shipped) == set(pins), "every pinned wheel, nothing else"
    for pin, digest in shipped.items():
        assert digest in pins[pin], f"{pin} in the bundle does not have its pinned hash"
    # Built for the image: CPython 3.8 on x86_64 Linux.
    assert all(
        name.endswith(("-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "-none-any.whl")) for name in wheels
    )


def test_without_the_downloaded_wheels_the_synth_says_run_make_setup(tmp_path: Path, project_root: Path) -> None:
    project = tmp_path / "project"
    (project / WHEELS_REQUIREMENTS).parent.mkdir(parents=True)
    (project / WHEELS_REQUIREMENTS).write_text((project_root / WHEELS_REQUIREMENTS).read_text())
    with pytest.raises(BundleError) as missing:
        wheel_files(project)
    # A wheel of the right name but other bytes is not the pinned one.
    (project / WHEELS_DOWNLOAD_DIR).mkdir(parents=True)
    (project / WHEELS_DOWNLOAD_DIR / "onnxruntime-1.10.0-cp38-cp38-manylinux2014_x86_64.whl").write_bytes(b"not it")
    with pytest.raises(BundleError) as wrong:
        wheel_files(project)
    for error in (missing, wrong):
        message = str(error.value)
        assert "\n" not in message and "onnxruntime==1.10.0" in message and "`make setup`" in message


IMAGE_SCRIPT = """
import json, sys
from pathlib import Path
try:
    import onnxruntime
except ImportError:
    pass
else:
    sys.exit("onnxruntime is in the image's Python already: this test would prove nothing")
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from training_job import bundled_wheels, quantize

runtime = quantize.onnxruntime_used()
assert "reason" not in runtime, runtime
import onnxruntime

# A tiny convolution network, quantized by the export's own function.
weights = numpy_helper.from_array(np.random.RandomState(0).randn(4, 3, 3, 3).astype(np.float32), "w")
graph = helper.make_graph(
    [helper.make_node("Conv", ["data", "w"], ["conv"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["conv"], ["out"])],
    "tiny",
    [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
    [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 8, 8])],
    initializer=[weights],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
scratch = Path(sys.argv[1])
onnx.save(model, str(scratch / "fp32.onnx"))
frames = np.random.RandomState(1).rand(4, 3, 8, 8).astype(np.float32) * 255
quantize.quantize(scratch / "fp32.onnx", scratch / "int8.onnx", frames)
ops = sorted({node.op_type for node in onnx.load(str(scratch / "int8.onnx")).graph.node})
print(json.dumps({"runtime": runtime, "file": onnxruntime.__file__, "ops": ops, "path": sys.path}))
"""


def test_the_bundled_wheels_bring_onnxruntime_to_the_image_python(
    synthesized_app: SynthesizedApp, tmp_path: Path
) -> None:
    assert IMAGE_PYTHON.is_file(), f"no image Python at {IMAGE_PYTHON}: run `make setup-image`"
    code, work, temp, models = (tmp_path / name for name in ("code", "work", "tmp", "models"))
    for folder in (code, work, temp, models):
        folder.mkdir()
    with tarfile.open(synthesized_source_bundle(synthesized_app.outdir)) as archive:
        archive.extractall(code, filter="data")  # as the toolkit unpacks it into /opt/ml/code
    before = sorted((path.relative_to(code).as_posix(), path.stat().st_size) for path in code.rglob("*"))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "PIP_"))}
    env.update(PYTHONPATH=str(code), TMPDIR=str(temp), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [str(IMAGE_PYTHON), "-c", IMAGE_SCRIPT, str(models)], cwd=work, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["runtime"] == {"onnxruntime": "1.10.0", "onnxruntime_from": "the code bundle's wheels"}
    assert Path(report["file"]).is_relative_to(temp)  # installed into a scratch folder ...
    assert "QuantizeLinear" in report["ops"] and "DequantizeLinear" in report["ops"]  # ... and it quantizes
    assert not list(temp.iterdir()), "the scratch folder is removed when the process ends"
    assert not list(work.iterdir()), "nothing is written into the working folder"
    after = sorted((path.relative_to(code).as_posix(), path.stat().st_size) for path in code.rglob("*"))
    assert after == before, "nothing is written into the code folder"


def test_without_wheels_the_image_python_says_why(tmp_path: Path, project_root: Path) -> None:
    assert IMAGE_PYTHON.is_file(), f"no image Python at {IMAGE_PYTHON}: run `make setup-image`"
    script = (
        "from pathlib import Path; from training_job import bundled_wheels; "
        "print(bundled_wheels.ensure_onnxruntime(Path('nowhere')))"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    env.update(PYTHONPATH=str(project_root), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([str(IMAGE_PYTHON), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "not installed in this Python" in result.stdout and "carries no wheels" in result.stdout
