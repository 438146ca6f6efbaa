"""The demo's settings and its command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from testbed.demo_model import DEMO_EPOCHS, DEMO_PER_CLASS, DEMO_SEED

from .stream import FRAMES_PER_ITEM

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


@dataclass(frozen=True)
class DemoOptions:
    out: Path = DEFAULT_OUT
    per_class: int = DEMO_PER_CLASS
    epochs: int = DEMO_EPOCHS
    seed: int = DEMO_SEED
    model: Path | None = None  # an existing model.tar.gz: the train stage uses it instead of training
    edge_model: Path | None = None  # what the edge component loads (default: the demo's model)
    frames_per_item: int = FRAMES_PER_ITEM
    progress: bool = True


def parse_args(argv: Sequence[str] | None = None) -> DemoOptions:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="The trash sorter end to end on this machine, no AWS account: sample images, prepare, "
        "train on CPU, export, evaluate, then a mutual-TLS mosquitto, the Pi subscriber on sense_emu and the "
        "Greengrass V2 component with held-out images as its camera.",
    )
    parser.add_argument("--per-class", type=int, default=DEMO_PER_CLASS, help="generated images per class")
    parser.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help="training epochs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default demo/out)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="seed for images, split, training, stream")
    parser.add_argument("--model", type=Path, help="use this model.tar.gz instead of training one")
    parser.add_argument("--edge-model", type=Path, help="model.tar.gz for the edge component (default: the demo's)")
    parser.add_argument("--frames-per-item", type=int, default=FRAMES_PER_ITEM,
                        help="consecutive camera frames of each item held in front of the camera")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    args = parser.parse_args(argv)
    # 10 per class is the least that leaves a test image of each class (a 70/20/10 split).
    if args.per_class < 10:
        parser.error(f"--per-class {args.per_class} is too small; at least 10 leave a test image per class")
    if args.epochs < 1 or args.frames_per_item < 1:
        parser.error("--epochs and --frames-per-item must be at least 1")
    return DemoOptions(
        out=args.out, per_class=args.per_class, epochs=args.epochs, seed=args.seed, model=args.model,
        edge_model=args.edge_model, frames_per_item=args.frames_per_item, progress=not args.no_progress,
    )
