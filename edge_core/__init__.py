"""The inference core every edge target shares: the DeepLens Lambda, the Greengrass V2 component, the demo.

frame source -> backend (ONNX Runtime, MXNet or DeepLens awscam) -> scores -> temporal smoothing
-> publish policy -> message, driven by runtime.EdgeRuntime (status messages, model loading,
failure reports) with settings.EdgeSettings, every value of which is declared once in settings.py.
Bundled into the DeepLens Lambda, so it keeps Python 3.7 syntax and imports numpy only; each
runtime is imported lazily by the backend that needs it.
"""
