"""Architecture x precision, measured in one run: the table behind README "Models for a Raspberry Pi camera".

For each network (ResNet-18, MobileNet V2) and precision (fp32, int8 in ONNX Runtime's two
static-quantization formats, QDQ and QOperator, both calibrated on the demo validation split):
- test-split accuracy of the demo-trained model (testbed.demo_model: generated images, 15 epochs
  from random weights at the demo's 56-pixel internal resolution; a wiring-level figure, not the
  accuracy of an ImageNet-pretrained model on real trash);
- ms per frame at 1 and 2 intra-op threads, one frame at a time, of the full 224x224 network
  (untrained weights cost the same to run), the camera's session options;
- the ONNX file's size;
- the peak memory (VmHWM) of the Greengrass component process running that file over the
  held-out images (bench.component_bench.measure, 1 thread).

Writes bench/models_table.md and the README block between the models-table markers, and
returns the figures for bench/results.json. `python -m bench models` runs it alone.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TABLE_FILE = Path(__file__).resolve().parent / "models_table.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- models-table:begin (python -m bench models) -->", "<!-- models-table:end -->"
NETWORKS = ("resnet18", "mobilenetv2_1.0")
PRECISIONS = ("fp32", "int8 QDQ", "int8 QOperator")
TIMED_FRAMES = 60
THREADS = (1, 2)
COMPONENT_SECONDS = 10.0
MIB = 1024 * 1024


def _unpack(archive: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _model_file(folder: Path, precision: str, calibration: Any) -> Path:
    from sorter_common.artifact import ONNX_FILE
    from training_job import quantize

    if precision == "fp32":
        return folder / ONNX_FILE
    quant_format = precision.split()[1]
    return quantize.quantize(folder / ONNX_FILE, folder / f"model.{quant_format}.onnx", calibration, quant_format)


def _component_folder(folder: Path, model_file: Path, target: Path) -> Path:
    """A model folder the component loads model_file from: as model.onnx (fp32), or as the preferred int8 file."""
    from sorter_common.artifact import INT8_ONNX_FILE, MODEL_INFO_FILE, ONNX_FILE

    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("model.Q*.onnx", INT8_ONNX_FILE))
    info = json.loads((target / MODEL_INFO_FILE).read_text())
    preferred = model_file.name != ONNX_FILE
    if preferred:
        shutil.copyfile(model_file, target / INT8_ONNX_FILE)
    info["int8"] = {"preferred": preferred, "reason": "set by bench.models_bench"}
    (target / MODEL_INFO_FILE).write_text(json.dumps(info))
    return target


def measure() -> list[dict[str, Any]]:
    from bench.component_bench import measure as component
    from testbed.demo_model import build_demo_model, build_full_resolution_model
    from training_job import quantize

    rows = []
    for network in NETWORKS:
        demo = build_demo_model(architecture=network)
        data = demo.parent.parent / "data"
        calibration = quantize.model_inputs(quantize.split_images(data, "validation", quantize.CALIBRATION_IMAGES)[0])
        test_paths, test_labels = quantize.split_images(data, "test")
        test_frames = quantize.model_inputs(test_paths)
        with tempfile.TemporaryDirectory(prefix="models-bench-") as tmp:
            trained = _unpack(demo, Path(tmp) / "trained")
            full = _unpack(build_full_resolution_model(architecture=network), Path(tmp) / "full")
            for precision in PRECISIONS:
                trained_file = _model_file(trained, precision, calibration)
                full_file = _model_file(full, precision, calibration)
                folder = _component_folder(full, full_file, Path(tmp) / f"component-{precision.replace(' ', '-')}")
                row: dict[str, Any] = {
                    "network": network,
                    "precision": precision,
                    "accuracy": quantize.accuracy(trained_file, test_frames, test_labels),
                    "test_images": len(test_labels),
                    "mib": full_file.stat().st_size / MIB,
                    "peak_mib": component(folder, data, COMPONENT_SECONDS, threads=1)["peak_mib"],
                }
                for threads in THREADS:
                    row[f"ms_{threads}t"] = quantize.ms_per_frame(full_file, test_frames, threads, TIMED_FRAMES)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or platform.machine(),
    )
    import onnxruntime

    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    version = onnxruntime.__version__
    return f"{model}, {cores} cores for this process, load average {load:.1f} at the end; onnxruntime {version}"


def table(rows: list[dict[str, Any]], where: str) -> str:
    lines = [
        f"Measured by `python -m bench models` on {where}.",
        "",
        "| network | precision | test accuracy (demo data) | ms/frame, 1 thread | ms/frame, 2 threads | ONNX file "
        "| component peak memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            "| {network} | {precision} | {accuracy:.3f} ({test_images} images) | {ms_1t:.1f} | {ms_2t:.1f} | "
            "{mib:.1f} MiB | {peak_mib:.0f} MiB |".format(**row)
        )
    lines += [
        "",
        "Accuracy: the demo-trained model (generated images, trained from random weights at the demo's 56-pixel "
        "internal resolution), so it compares precisions of one network, not the networks on real trash. "
        "Speed, size and memory: the full 224x224 network. int8: ONNX Runtime static quantization calibrated on "
        "the demo validation split, softmax kept float. Peak memory: the Greengrass component process "
        "(`python -m device.greengrass_component`, 1 thread) over the held-out images.",
    ]
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    TABLE_FILE.write_text(text)
    readme = README.read_text()
    if BEGIN in readme and END in readme:
        before, rest = readme.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        README.write_text(before + BEGIN + "\n" + text + END + after)


def run() -> dict[str, dict[str, Any]]:
    rows = measure()
    write(table(rows, machine()))
    figures: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = "models_{}_{}".format(row["network"].replace(".", "_"), row["precision"].replace(" ", "_").lower())
        figures[name + "_accuracy"] = {"value": round(row["accuracy"], 3), "unit": "", "goal": "demo test split"}
        for threads in THREADS:
            figures[f"{name}_ms_{threads}t"] = {
                "value": round(row[f"ms_{threads}t"], 2),
                "unit": "ms/frame",
                "goal": f"224x224, {threads} thread(s)",
            }
        figures[name + "_size"] = {"value": round(row["mib"], 2), "unit": "MiB", "goal": "report"}
        figures[name + "_component_peak"] = {"value": round(row["peak_mib"], 1), "unit": "MiB", "goal": "report"}
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
