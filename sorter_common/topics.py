"""MQTT topic names: trash-sorter/<thing-name>/predictions and .../status."""

DEFAULT_TOPIC_PREFIX = "trash-sorter"
PREDICTIONS = "predictions"
STATUS = "status"


def predictions_topic(thing_name: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/{thing_name}/{PREDICTIONS}"


def status_topic(thing_name: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/{thing_name}/{STATUS}"


def all_predictions_filter(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """Subscription filter for every sorter camera's predictions."""
    return f"{prefix}/+/{PREDICTIONS}"


def all_status_filter(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/+/{STATUS}"
