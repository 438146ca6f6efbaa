"""`evaluate MODEL_TAR DATA OUT`: accuracy, per-class precision and recall, confusion matrix.

OUT/evaluation.json is shaped for a SageMaker pipeline property file: the accuracy gate
reads `multiclass_classification_metrics.accuracy.value`. OUT/confusion_matrix.png is
the same matrix for people. Images go through the exported model exactly as on the edge:
decoded as BGR, resized by sorter_common.model_input.to_model_input, nothing else.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from tqdm import tqdm

from edge_core.backends import BatchBackend, load_batch_backend
from sorter_common.artifact import LABELS_FILE
from sorter_common.classes import parse_labels
from sorter_common.model_input import to_model_input
from sorter_common.training_pipeline import EVALUATION_FILE
from training_job import archive, data
from training_job.errors import UsageError
from training_job.split import read_lst

if TYPE_CHECKING:  # numpy.typing needs numpy 1.20+, which the MXNet container may not have
    from numpy.typing import NDArray

# The evaluation's runtime names (`--runtime`, evaluation.json's "runtime") -> the edge's backends,
# so the model is measured through the very code the cameras run.
RUNTIMES = {"mxnet": "mxnet", "onnx": "onnxruntime"}
CONFUSION_PNG = "confusion_matrix.png"
EVALUATION_VERSION = 1

_METRIC = {
    "type": "object",
    "required": ["value", "standard_deviation"],
    "properties": {
        "value": {"type": "number", "minimum": 0, "maximum": 1},
        "standard_deviation": {"type": "number", "minimum": 0},
    },
}
# JSON Schema (draft 7) of evaluation.json; tests validate against it.
EVALUATION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": [
        "version",
        "model_version",
        "runtime",
        "split",
        "classes",
        "count",
        "multiclass_classification_metrics",
        "per_class",
    ],
    "properties": {
        "version": {"const": EVALUATION_VERSION},
        "model_version": {"type": "string"},
        "runtime": {"enum": list(RUNTIMES)},
        "split": {"type": "string"},
        "classes": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "count": {"type": "integer", "minimum": 1},
        "multiclass_classification_metrics": {
            "type": "object",
            "required": ["accuracy", "weighted_precision", "weighted_recall", "weighted_f1", "confusion_matrix"],
            "properties": {
                "accuracy": _METRIC,
                "weighted_precision": _METRIC,
                "weighted_recall": _METRIC,
                "weighted_f1": _METRIC,
                "confusion_matrix": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
        "per_class": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["precision", "recall", "f1", "support"],
                "properties": {
                    "precision": {"type": "number", "minimum": 0, "maximum": 1},
                    "recall": {"type": "number", "minimum": 0, "maximum": 1},
                    "f1": {"type": "number", "minimum": 0, "maximum": 1},
                    "support": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], num_classes: int) -> NDArray[Any]:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(truth, predicted):
        matrix[t, p] += 1
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _metric(value: float, count: int) -> dict[str, float]:
    """A value with its binomial standard error, the shape SageMaker model metrics use."""
    return {
        "value": round(value, 6),
        "standard_deviation": round(math.sqrt(max(value * (1 - value), 0.0) / max(count, 1)), 6),
    }


def metrics_document(
    matrix: NDArray[Any], classes: Sequence[str], model_version: str, runtime_name: str, split: str
) -> dict[str, Any]:
    count = int(matrix.sum())
    support = matrix.sum(axis=1)
    per_class: dict[str, dict[str, Any]] = {}
    for index, class_id in enumerate(classes):
        precision = _ratio(matrix[index, index], matrix[:, index].sum())
        recall = _ratio(matrix[index, index], support[index])
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[class_id] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": int(support[index]),
        }
    weights = support / max(count, 1)

    def weighted(name: str) -> float:
        return float(sum(w * per_class[c][name] for w, c in zip(weights, classes)))

    return {
        "version": EVALUATION_VERSION,
        "model_version": model_version,
        "runtime": runtime_name,
        "split": split,
        "classes": list(classes),
        "count": count,
        "multiclass_classification_metrics": {
            "accuracy": _metric(_ratio(np.trace(matrix), count), count),
            "weighted_precision": _metric(weighted("precision"), count),
            "weighted_recall": _metric(weighted("recall"), count),
            "weighted_f1": _metric(weighted("f1"), count),
            "confusion_matrix": {
                true_id: {pred_id: int(matrix[i, j]) for j, pred_id in enumerate(classes)}
                for i, true_id in enumerate(classes)
            },
        },
        "per_class": per_class,
    }


def plot_confusion(matrix: NDArray[Any], classes: Sequence[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on build machines or in SageMaker
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.6 * len(classes) + 2, 1.6 * len(classes) + 1.5))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(classes)), labels=list(classes), rotation=30, ha="right")
    axes.set_yticks(range(len(classes)), labels=list(classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            axes.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                color="white" if matrix[i, j] > threshold else "black",
            )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def predict_files(
    backend: BatchBackend, paths: Sequence[Path], batch_size: int = 16, progress: bool = True
) -> NDArray[Any]:
    """Probabilities for image files, each decoded and resized exactly as the edge does it."""
    outputs: list[NDArray[Any]] = []
    for start in tqdm(range(0, len(paths), batch_size), desc="evaluate", unit="batch", disable=not progress):
        batch = np.concatenate([to_model_input(data.read_bgr(path)) for path in paths[start : start + batch_size]])
        outputs.append(backend.infer_batch(batch))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def _dataset_classes(data_dir: Path) -> list[str]:
    labels_file = data_dir / LABELS_FILE
    if not labels_file.is_file():
        raise UsageError(
            f"{data_dir} has no {LABELS_FILE}, so its labels cannot be matched to the model's classes; "
            "prepare it with `python -m training prepare`"
        )
    return parse_labels(labels_file.read_text(encoding="utf-8"))


def _last_line(error: Exception) -> str:
    """The message of an error whose text may carry a native stack trace (MXNet's does): its last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    return last.split("MXNetError: ", 1)[-1]


def _load(model_tar: Path, model_dir: Path, runtime_name: str) -> BatchBackend:
    if runtime_name not in RUNTIMES:
        raise ValueError(f"runtime {runtime_name!r} is not one of {tuple(RUNTIMES)}")
    try:
        return load_batch_backend(RUNTIMES[runtime_name], str(model_dir))
    except Exception as error:  # MXNetError, onnxruntime's InvalidProtobuf/Fail: each library its own type
        reason = _last_line(error)
        raise UsageError(
            f"{model_tar}: {runtime_name} cannot load the model files ({reason[:200]}); the archive is corrupt, "
            "export it again"
        ) from None


def evaluate(
    model_tar: Path,
    data_dir: Path,
    out_dir: Path,
    split: str = "test",
    runtime_name: str = "mxnet",
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate model_tar on DATA/<split>.lst; writes evaluation.json and confusion_matrix.png."""
    lst = data_dir / (split + ".lst")
    if not lst.is_file():
        raise FileNotFoundError(f"{lst} does not exist; run `python -m training prepare` first")
    rows = read_lst(lst)
    if not rows:
        raise ValueError(f"{lst} lists no images")
    dataset_classes = _dataset_classes(data_dir)
    with tempfile.TemporaryDirectory(prefix="trash-sorter-eval-") as scratch:
        info = archive.unpack(model_tar, Path(scratch))
        classes: list[str] = list(info["classes"])
        # The .lst labels index the dataset's classes, the predictions the model's: they must agree.
        if dataset_classes != classes:
            raise UsageError(
                f"the model was trained on {classes} but {data_dir} holds {dataset_classes}: "
                "evaluate a dataset prepared with the model's classes"
            )
        outside = sorted({label for label, _ in rows if not 0 <= label < len(classes)})
        if outside:
            raise UsageError(f"{lst} has label {outside[0]}, but {LABELS_FILE} lists {len(classes)} classes")
        backend = _load(model_tar, Path(scratch), runtime_name)
        try:
            probabilities = predict_files(backend, [data_dir / relative for _, relative in rows], progress=progress)
        except ValueError:
            raise  # an image that cannot be decoded: its own one-line message
        except Exception as error:  # the runtime failing on the graph (say params of another shape)
            raise UsageError(
                f"{model_tar}: {runtime_name} cannot run the model ({_last_line(error)[:200]}); "
                "the archive is corrupt, export it again"
            ) from None
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise UsageError(
            f"{model_tar}: the model outputs {probabilities.shape[1:]} scores per image but lists "
            f"{len(classes)} classes; export it again"
        )
    truth = [label for label, _ in rows]
    matrix = confusion_matrix(truth, list(probabilities.argmax(axis=1)), len(classes))
    document = metrics_document(matrix, classes, str(info.get("version", "")), runtime_name, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EVALUATION_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    accuracy = document["multiclass_classification_metrics"]["accuracy"]["value"]
    plot_confusion(matrix, classes, out_dir / CONFUSION_PNG, f"{split} split, accuracy {accuracy:.3f}")
    print(f"{split}:accuracy={accuracy:.4f}", flush=True)
    return document
