"""File names inside model.tar.gz (the names DeepLens mo.optimize expects for MXNet)."""

MODEL_PREFIX = "image-classification"
SYMBOL_FILE = MODEL_PREFIX + "-symbol.json"
PARAMS_FILE = MODEL_PREFIX + "-0000.params"
ONNX_FILE = "model.onnx"
LABELS_FILE = "labels.txt"
MODEL_INFO_FILE = "model.json"
ARCHIVE_NAME = "model.tar.gz"
ARTIFACT_FILES = (SYMBOL_FILE, PARAMS_FILE, ONNX_FILE, LABELS_FILE, MODEL_INFO_FILE)
