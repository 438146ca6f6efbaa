"""A deterministic stratified train/validation/test split and its im2rec .lst manifests."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.7, 0.2, 0.1)


def parse_fractions(text: str) -> tuple[float, float, float]:
    """'70/20/10' or '0.7,0.2,0.1' -> fractions that sum to 1."""
    parts = [p for p in text.replace(",", "/").split("/") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"split {text!r} is not three numbers like 70/20/10") from None
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0 or values[0] == 0:
        raise ValueError(f"split {text!r} must be three non-negative numbers with a non-zero train part")
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


def split_counts(count: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """How many of count items go to each split: train always gets one, and every other non-empty
    split gets at least one item when there are three or more."""
    validation = round(count * fractions[1])
    test = round(count * fractions[2])
    if fractions[1] > 0 and count >= 3:
        validation = max(1, validation)
    if fractions[2] > 0 and count >= 3:
        test = max(1, test)
    # Training needs at least one image of every class: take it from the larger other split.
    while count > 0 and count - validation - test < 1:
        if validation >= test:
            validation -= 1
        else:
            test -= 1
    train = count - validation - test
    return (train, validation, test)


def stratified_split(
    keys_by_class: dict[str, list[str]], fractions: Sequence[float], seed: int
) -> dict[str, dict[str, list[str]]]:
    """split -> class -> keys. The same keys, fractions and seed always give the same split."""
    result: dict[str, dict[str, list[str]]] = {split: {} for split in SPLITS}
    for class_id in sorted(keys_by_class):
        keys = sorted(keys_by_class[class_id])
        # One generator per class, so adding images to one class leaves the others' split alone.
        random.Random(f"{seed}:{class_id}").shuffle(keys)
        train, validation, _ = split_counts(len(keys), fractions)
        result["train"][class_id] = sorted(keys[:train])
        result["validation"][class_id] = sorted(keys[train : train + validation])
        result["test"][class_id] = sorted(keys[train + validation :])
    return result


def write_lst(path: Path, rows: Sequence[tuple[int, str]]) -> None:
    """im2rec format: index<TAB>label<TAB>relative path, one image per line."""
    for _, relative in rows:
        if "\t" in relative or len(relative.splitlines()) != 1:
            raise ValueError(f"{relative!r} cannot be written to a .lst file: it holds a tab or a line break")
    lines = [f"{index}\t{float(label):.1f}\t{relative}" for index, (label, relative) in enumerate(rows)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_lst(path: Path) -> list[tuple[int, str]]:
    """(label, relative path) per line of an im2rec .lst file."""
    rows = []
    # Only "\n" ends a row (as write_lst writes them), not every separator str.splitlines() knows.
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise ValueError(f"{path}:{number}: expected index, label and path separated by tabs")
        try:
            label = int(float(fields[1]))
        except (ValueError, OverflowError):
            raise ValueError(f"{path}:{number}: label {fields[1]!r} is not a number") from None
        rows.append((label, fields[-1]))
    return rows
