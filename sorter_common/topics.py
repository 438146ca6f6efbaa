"""MQTT topic names: trash-sorter/<thing-name>/predictions, .../status, and .../corrections (from the Pi)."""

DEFAULT_TOPIC_PREFIX = "trash-sorter"
PREDICTIONS = "predictions"
STATUS = "status"
# Published by the Pi (the person at the bin), read by that camera: sorter_common.correction.
CORRECTIONS = "corrections"


def predictions_topic(thing_name: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/{thing_name}/{PREDICTIONS}"


def status_topic(thing_name: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/{thing_name}/{STATUS}"


def corrections_topic(thing_name: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """Where corrections of the camera `thing_name`'s decisions go."""
    return f"{prefix}/{thing_name}/{CORRECTIONS}"


def all_predictions_filter(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """Subscription filter for every sorter camera's predictions."""
    return f"{prefix}/+/{PREDICTIONS}"


def all_status_filter(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/+/{STATUS}"


def all_corrections_filter(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}/+/{CORRECTIONS}"


# MQTT 3.1.1 section 4.7: '/' separates levels, '+' and '#' are wildcards (never in a topic name
# one publishes to), and U+0000 is not allowed anywhere. AWS IoT Core allows 7 levels in all.
_NOT_IN_A_LEVEL = ("/", "+", "#", "\x00")


def topic_level_problem(name):  # type: (str) -> str
    """Why `name` cannot be one MQTT topic level, or "" when it can."""
    if not name:
        return "it is empty"
    bad = sorted({char for char in name if char in _NOT_IN_A_LEVEL})
    if bad:
        return "it contains {} (not allowed in an MQTT topic level)".format(" ".join(repr(char) for char in bad))
    return ""
