"""The contract between the TrashSorterIot stack and `python -m device.provision`.

The stack names its outputs with these keys and stores the Pi's private key under this secret
name; the provisioning tool reads them back. One definition, so the two can never drift.
"""

IOT_STACK_NAME = "TrashSorterIot"
OUTPUT_THING_NAME = "PiThingName"
OUTPUT_CERTIFICATE_ARN = "PiCertificateArn"
OUTPUT_CERTIFICATE_ID = "PiCertificateId"
OUTPUT_SECRET_ARN = "PiPrivateKeySecretArn"
OUTPUT_PROVISION_COMMAND = "ProvisionCommand"
# The project's class ids (comma-separated, sorted) and topic prefix, for the Pi's subscriber.toml.
OUTPUT_CLASSES = "Classes"
OUTPUT_TOPIC_PREFIX = "TopicPrefix"
METRICS_NAMESPACE = "TrashSorter"
# Where provisioning writes the Pi's certificate, key and subscriber.toml, and the subscriber reads
# them (the stack's ProvisionCommand output names it).
PI_CONFIG_DIR = "/etc/trash-sorter"
# Where the subscriber keeps what it learns at run time: the Greengrass discovery answer (so a restart
# without internet still finds the camera's local broker) and the CA that came with it. The systemd
# unit's StateDirectory: its ProtectSystem=strict leaves /etc (PI_CONFIG_DIR) read-only to the service.
PI_STATE_DIR = "/var/lib/trash-sorter"
DISCOVERY_CACHE_FILE = "discovery.json"


def private_key_secret_name(thing_name: str) -> str:
    """Secrets Manager name of the thing's certificate private key."""
    return f"trash-sorter/{thing_name}/private-key"
