"""The Raspberry Pi Sense HAT subscriber: shows which bin to use, run as `python -m device.pi_subscriber`.

Modules, one job each: config (file, environment, flags), patterns (the 8x8 drawings),
screen_state (what should be on screen now), message_filter (which messages to show),
display (Sense HAT, emulator and terminal renderers), app (the main loop and signals).
The MQTT connection itself is device.mqtt_link, shared with tests, benchmark and demo.
"""
