"""Code that runs on devices: the Raspberry Pi subscriber, the Greengrass V2 component, and the
local mutual-TLS broker kit (local_pki, local_broker) that tests, benchmarks and the demo share."""
