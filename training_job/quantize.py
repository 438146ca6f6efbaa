"""int8 at export: ONNX Runtime static quantization of model.onnx, measured against fp32, kept only where it wins.

The quantization is calibrated on the validation split (the images the edge would see, decoded
and resized as on the edge). Then the export measures both models itself, on this machine: ms
per frame (one frame at a time, one intra-op thread: what a camera core does) and top-1 accuracy
on the test split. Published measurements show int8 in ONNX Runtime is sometimes slower than fp32
on CPUs, so the int8 file ships (and the camera prefers it) only when it is at least
MIN_SPEEDUP times faster at no more than MAX_ACCURACY_LOSS of accuracy lost. model.json's "int8"
records both speeds, both accuracies and the decision either way.

onnxruntime is imported late: the MXNet 1.9 training image has none, so there it comes from the
wheel the code bundle carries (training_job.bundled_wheels); model.json's "int8" records which
onnxruntime measured. Where neither works, the export says why in model.json instead of failing the
training job, and the fp32 model ships.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from edge_core.backends import session_options
from sorter_common.artifact import INT8_PREFERRED
from sorter_common.model_input import to_model_input
from training_job import bundled_wheels, data
from training_job.split import read_lst

if TYPE_CHECKING:
    from numpy.typing import NDArray

MIN_SPEEDUP = 1.5
MAX_ACCURACY_LOSS = 0.01  # one point of top-1 accuracy on the test split
# QDQ or QOperator: `python -m bench models` measures both (bench/models_table.md); on this
# project's x86 build machine they ran equally fast within the noise of a shared machine (ResNet-18
# 12.3 / 12.8 ms, MobileNet V2 5.9 / 6.2 ms per frame on 1 thread). Passed explicitly: quantize_static's
# default is QDQ in this project's onnxruntime 1.18 but QOperator in the 1.10.0 wheel the SageMaker job uses.
QUANT_FORMAT = "QDQ"
CALIBRATION_IMAGES = 64
TIMING_FRAMES = 20
TIMING_WARMUP = 3
TIMING_THREADS = 1


def onnxruntime_used() -> dict[str, str]:
    """Which onnxruntime quantizes and measures, for model.json.

    {"onnxruntime": version, "onnxruntime_from": "this Python" or "the code bundle's wheels"} when it
    imports (after installing the bundled wheels if need be); {"reason": ...} when it cannot.
    """
    try:
        source, missing = bundled_wheels.ensure_onnxruntime()
        if missing:
            return {"reason": missing}
        import onnxruntime

        return {"onnxruntime": str(onnxruntime.__version__), "onnxruntime_from": source}
    except Exception as error:  # int8 never fails the training job: the fp32 model ships, model.json says why
        return {"reason": f"onnxruntime cannot be used for int8 ({_one_line(error)})"}


def _one_line(error: BaseException) -> str:
    """The exception's type and the first line of its message, at most 200 characters."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first[:200]}" if first else type(error).__name__


def split_images(data_dir: Path, split: str, limit: int | None = None, seed: int = 0) -> tuple[list[Path], list[int]]:
    """The image files and labels of DATA/<split>.lst; a fixed random subset when limit is given."""
    lst = data_dir / f"{split}.lst"
    rows = read_lst(lst) if lst.is_file() else []
    if limit is not None and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return [data_dir / relative for _, relative in rows], [label for label, _ in rows]


def model_inputs(paths: Sequence[Path]) -> NDArray[np.float32]:
    """Nx3x224x224 float32 BGR 0..255, decoded and resized exactly as the edge does it."""
    return np.concatenate([to_model_input(data.read_bgr(path)) for path in paths]).astype(np.float32)


class _Calibration:
    """ONNX Runtime's CalibrationDataReader protocol: one {input name: frame} per call, None at the end."""

    def __init__(self, input_name: str, frames: NDArray[np.float32]) -> None:
        self._feeds: Iterator[dict[str, Any]] = iter([{input_name: frames[i : i + 1]} for i in range(len(frames))])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)


def quantize(
    fp32_file: Path, int8_file: Path, calibration: NDArray[np.float32], quant_format: str = QUANT_FORMAT
) -> Path:
    """Write int8_file: fp32_file statically quantized (int8 weights and activations), calibrated on these frames."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(_Calibration, CalibrationDataReader):  # type: ignore[misc]
        pass

    with tempfile.TemporaryDirectory(prefix="trash-sorter-quantize-") as scratch:
        # A copy: onnxruntime 1.10 writes its optimized graph (<name>-opt.onnx) beside its input,
        # and beside fp32_file is the model folder SageMaker packs whole.
        source = Path(scratch) / "fp32.onnx"
        shutil.copyfile(fp32_file, source)
        try:  # onnxruntime 1.13 and later: fold BatchNormalization into the convolutions first
            from onnxruntime.quantization import quant_pre_process
        except ImportError:  # 1.10 (the last for numpy < 1.21): quantize_static's own optimize_model does it
            pass
        else:
            preprocessed = Path(scratch) / "preprocessed.onnx"
            quant_pre_process(str(source), str(preprocessed), skip_symbolic_shape=True)
            source = preprocessed
        input_name = _session(source, 1).get_inputs()[0].name
        # The final Softmax stays float: quantized, the probabilities would come in steps of 1/255
        # and no longer sum to 1, and the camera's smoothing and threshold read them.
        softmax = [node.name for node in onnx.load(str(source)).graph.node if node.op_type == "Softmax"]
        # onnxruntime 1.10 writes its calibration graph (augmented_model.onnx) into the working
        # folder: let that be the scratch folder, not the job's or the user's.
        with _working_folder(Path(scratch)):
            quantize_static(
                str(source.resolve()),
                str(int8_file.resolve()),
                Reader(input_name, calibration),
                quant_format=getattr(QuantFormat, quant_format),
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=softmax,
            )
    return int8_file


@contextlib.contextmanager
def _working_folder(folder: Path) -> Iterator[None]:
    """The process's working folder is `folder` inside the block (contextlib.chdir is Python 3.11+)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _session(model_file: Path, threads: int) -> Any:
    """A session configured as the camera's (edge_core.backends.session_options), so the timing is the camera's."""
    import onnxruntime as ort

    return ort.InferenceSession(str(model_file), session_options(threads), providers=["CPUExecutionProvider"])


def ms_per_frame(
    model_file: Path, frames: NDArray[np.float32], threads: int = TIMING_THREADS, count: int = TIMING_FRAMES
) -> float:
    """Median milliseconds per single-frame inference (after a warm-up), at `threads` intra-op threads."""
    session = _session(model_file, threads)
    name = session.get_inputs()[0].name
    singles = [frames[i % len(frames)][None] for i in range(TIMING_WARMUP + count)]
    for frame in singles[:TIMING_WARMUP]:
        session.run(None, {name: frame})
    times = []
    for frame in singles[TIMING_WARMUP:]:
        start = time.perf_counter()
        session.run(None, {name: frame})
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def accuracy(model_file: Path, frames: NDArray[np.float32], labels: Sequence[int]) -> float:
    session = _session(model_file, 0)
    name = session.get_inputs()[0].name
    predicted = np.concatenate(
        [np.asarray(session.run(None, {name: frames[i : i + 16]})[0]).argmax(axis=1) for i in range(0, len(frames), 16)]
    )
    return float((predicted == np.asarray(labels)).mean())


def decide(fp32_ms: float, int8_ms: float, fp32_accuracy: float, int8_accuracy: float) -> tuple[bool, str]:
    """Whether the camera should prefer int8, and why, in one line."""
    speedup = fp32_ms / int8_ms if int8_ms > 0 else 0.0
    loss = fp32_accuracy - int8_accuracy
    if speedup < MIN_SPEEDUP:
        return False, f"int8 is {speedup:.2f}x the fp32 speed, under the {MIN_SPEEDUP}x required"
    if loss > MAX_ACCURACY_LOSS + 1e-9:
        return False, f"int8 loses {100 * loss:.1f} points of test accuracy, more than {100 * MAX_ACCURACY_LOSS:.0f}"
    return True, f"int8 is {speedup:.2f}x faster and loses {100 * max(loss, 0.0):.1f} points of test accuracy"


def quantize_and_measure(fp32_file: Path, int8_file: Path, data_dir: Path) -> dict[str, Any]:
    """model.json's "int8": the measurement and the decision; int8_file is left only when preferred."""
    runtime = onnxruntime_used()
    if "reason" in runtime:
        return {INT8_PREFERRED: False, **runtime}
    calibration_paths, _ = split_images(data_dir, "validation", CALIBRATION_IMAGES)
    test_paths, test_labels = split_images(data_dir, "test")
    if not calibration_paths or not test_paths:
        return {
            INT8_PREFERRED: False,
            "reason": "no validation images to calibrate on or no test images to measure",
            **runtime,
        }
    try:
        quantize(fp32_file, int8_file, model_inputs(calibration_paths))
        test_frames = model_inputs(test_paths)
        fp32_ms, int8_ms = ms_per_frame(fp32_file, test_frames), ms_per_frame(int8_file, test_frames)
        fp32_accuracy, int8_accuracy = (
            accuracy(fp32_file, test_frames, test_labels),
            accuracy(int8_file, test_frames, test_labels),
        )
    except Exception as error:  # whatever onnxruntime raises: the trained fp32 model must never be lost to int8
        int8_file.unlink(missing_ok=True)
        reason = f"int8 quantization failed ({_one_line(error)})"
        return {INT8_PREFERRED: False, "reason": reason, **runtime}
    preferred, reason = decide(fp32_ms, int8_ms, fp32_accuracy, int8_accuracy)
    if not preferred:
        int8_file.unlink()
    return {
        INT8_PREFERRED: preferred,
        "reason": reason,
        "format": QUANT_FORMAT,
        "calibration_images": len(calibration_paths),
        "test_images": len(test_paths),
        "timing": {"threads": TIMING_THREADS, "frames": TIMING_FRAMES, "batch": 1},
        "fp32_ms_per_frame": round(fp32_ms, 3),
        "int8_ms_per_frame": round(int8_ms, 3),
        "speedup": round(fp32_ms / int8_ms, 3) if int8_ms > 0 else 0.0,
        "fp32_test_accuracy": round(fp32_accuracy, 6),
        "int8_test_accuracy": round(int8_accuracy, 6),
        **runtime,
    }
