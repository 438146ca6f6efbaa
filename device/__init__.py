"""Code that runs on devices: the Raspberry Pi subscriber, the Greengrass V2 component, their MQTT
link and provisioning. Test, demo and benchmark scaffolding lives in testbed/, not here."""
