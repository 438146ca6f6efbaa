"""Fakes of the DeepLens device modules, at their documented interfaces only.

awscam.getLastFrame() -> (ret, BGR numpy frame); awscam.Model(path, {"GPU": 1}).doInference(frame)
-> {output name: numpy array}; mo.optimize(name, width, height) -> (error, optimized model path);
greengrasssdk.client("iot-data").publish(topic=..., payload=...). Installed into sys.modules
by `installed()`, so the real Lambda module imports them as it would on the device.
"""
