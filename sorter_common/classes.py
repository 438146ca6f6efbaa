"""Class ids and the labels file that travels with every model."""

import re
from typing import Iterable, List, Sequence

DEFAULT_CLASSES = ("compost", "landfill", "recycling")
# Reported instead of a class id when the smoothed confidence is under the threshold.
UNSURE = "unsure"
CLASS_ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ClassListError(ValueError):
    """A class list that breaks the contract."""


def normalize_classes(ids: Iterable[str]) -> List[str]:
    """Return the class ids sorted: a class's index is its position in this list."""
    cleaned = [str(class_id).strip() for class_id in ids]
    cleaned = [class_id for class_id in cleaned if class_id]
    if not cleaned:
        raise ClassListError("the class list is empty; give at least two class ids")
    for class_id in cleaned:
        if not CLASS_ID_PATTERN.match(class_id):
            raise ClassListError(
                f"class id {class_id!r} is not allowed; use lower-case letters, digits and '-', "
                "starting with a letter, at most 32 characters"
            )
        if class_id == UNSURE:
            raise ClassListError(f"class id {UNSURE!r} is reserved for low-confidence decisions")
    if len(set(cleaned)) != len(cleaned):
        raise ClassListError(f"the class list {cleaned!r} repeats an id")
    if len(cleaned) < 2:
        raise ClassListError(f"the class list {cleaned!r} has one class; a classifier needs at least two")
    return sorted(cleaned)


def class_index(classes: Sequence[str], class_id: str) -> int:
    """The network output index of a class id."""
    return list(normalize_classes(classes)).index(class_id)


def format_labels(classes: Sequence[str]) -> str:
    """labels.txt content: one id per line, no stray whitespace (the recipe leaked '\\n')."""
    return "\n".join(normalize_classes(classes)) + "\n"


def parse_labels(text: str) -> List[str]:
    """Read labels.txt content, tolerating CRLF and trailing blanks, keeping file order."""
    labels = [line.strip() for line in text.splitlines()]
    return [label for label in labels if label]
