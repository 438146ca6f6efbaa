"""The Greengrass V2 inference component: camera frames -> the shared inference core -> AWS IoT Core.

Runs under Greengrass (publishing through IPC) or on its own (publishing to any MQTT broker over
mutual TLS, or printing to stdout) with `python -m device.greengrass_component`.
"""
