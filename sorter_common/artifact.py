"""File names inside model.tar.gz (the names DeepLens mo.optimize expects for MXNet)."""

MODEL_PREFIX = "image-classification"
SYMBOL_FILE = MODEL_PREFIX + "-symbol.json"
PARAMS_FILE = MODEL_PREFIX + "-0000.params"
ONNX_FILE = "model.onnx"
# The int8 (ONNX Runtime static quantization) copy of model.onnx: in the archive only when the
# export's own measurement showed it worth preferring (model.json "int8" says why either way).
INT8_ONNX_FILE = "model.int8.onnx"
LABELS_FILE = "labels.txt"
MODEL_INFO_FILE = "model.json"
ARCHIVE_NAME = "model.tar.gz"
ARTIFACT_FILES = (SYMBOL_FILE, PARAMS_FILE, ONNX_FILE, LABELS_FILE, MODEL_INFO_FILE)
# Files an archive may carry besides ARTIFACT_FILES.
OPTIONAL_ARTIFACT_FILES = (INT8_ONNX_FILE,)
# model.json's key for the int8 measurement and decision, and its field the camera reads.
INT8_INFO_KEY = "int8"
INT8_PREFERRED = "preferred"
