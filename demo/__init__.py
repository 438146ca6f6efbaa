"""`python -m demo`: the whole trash sorter end to end on one machine, with no AWS account.

Generated images -> prepare -> a short CPU training -> export check -> evaluation -> mosquitto
with mutual TLS -> the Pi subscriber on sense_emu -> the Greengrass V2 component in local MQTT
mode with held-out images as its camera. Every piece is the project's own code, run as it runs
in production; the demo only chains them and scores what reached the display.
"""
