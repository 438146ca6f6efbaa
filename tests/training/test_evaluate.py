from __future__ import annotations

import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from training.cli import main
from training_job import evaluate as evaluate_module
from training_job.errors import UsageError
from training_job.evaluate import EVALUATION_SCHEMA, confusion_matrix, evaluate, metrics_document, plot_confusion

CLASSES = ["compost", "landfill", "recycling"]


def test_metrics_from_a_known_confusion_matrix() -> None:
    truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    predicted = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0]
    matrix = confusion_matrix(truth, predicted, 3)
    assert matrix.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    document = metrics_document(matrix, CLASSES, "abc", "onnx", "test")
    jsonschema.validate(document, EVALUATION_SCHEMA)
    metrics = document["multiclass_classification_metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(0.7)
    assert metrics["accuracy"]["standard_deviation"] == pytest.approx(np.sqrt(0.7 * 0.3 / 10), abs=1e-6)
    assert document["per_class"]["compost"] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    assert document["per_class"]["landfill"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert document["per_class"]["recycling"]["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["confusion_matrix"]["compost"] == {"compost": 3, "landfill": 1, "recycling": 0}
    expected_weighted_recall = 0.4 * 0.75 + 0.3 * (2 / 3) + 0.3 * (2 / 3)
    assert metrics["weighted_recall"]["value"] == pytest.approx(expected_weighted_recall, abs=1e-6)


def test_a_class_never_predicted_has_zero_precision_not_an_error() -> None:
    document = metrics_document(np.array([[2, 0], [1, 0]]), ["a", "b"], "v", "mxnet", "test")
    jsonschema.validate(document, EVALUATION_SCHEMA)
    assert document["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_schema_rejects_a_document_without_accuracy() -> None:
    document = metrics_document(np.eye(2, dtype=int), ["a", "b"], "v", "mxnet", "test")
    del document["multiclass_classification_metrics"]["accuracy"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, EVALUATION_SCHEMA)


def test_confusion_png(tmp_path: Path) -> None:
    plot_confusion(np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]]), CLASSES, tmp_path / "cm.png", "test")
    from PIL import Image

    with Image.open(tmp_path / "cm.png") as image:
        assert image.format == "PNG" and min(image.size) >= 300


def test_a_dataset_of_other_classes_is_refused_not_scored(demo_model: Path, demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    (data / "labels.txt").write_text("glass\nmetal\npaper\n")
    with pytest.raises(UsageError, match="trained on \\['compost', 'landfill', 'recycling'\\]"):
        evaluate(demo_model, data, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "evaluation.json").exists()


def test_a_model_that_loads_but_fails_to_run_is_one_line(
    demo_model: Path,
    demo_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken:
        name = "onnx"

        def infer_batch(self, batch: object) -> object:
            raise RuntimeError("Traceback (most recent call last):\n  File x\nShape mismatch: (3, 512) vs (4, 512)")

    monkeypatch.setattr(evaluate_module, "load_batch_backend", lambda name, folder: Broken())
    assert main(["evaluate", str(demo_model), str(demo_data), str(tmp_path / "out"), "--runtime", "onnx"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert err == [
        f"error: {demo_model}: onnx cannot run the model (Shape mismatch: (3, 512) vs (4, 512)); "
        "the archive is corrupt, export it again"
    ]
