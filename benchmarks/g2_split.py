"""The G2 pool split as a model file records it, for the benchmarks that refit on a model's training frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from ase_mlham.data.dataset import ReferenceFrame, read_frames
from ase_mlham.evaluation import frame_ids, select_frames
from ase_mlham.model.io import load_model
from ase_mlham.model.model import MLHamModel

#: ``shared/data`` beside the repository (developers' and CI's reference data).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def g2_split(model: MLHamModel, g2: str | Path) -> dict[str, list[ReferenceFrame]]:
    """``train``, ``validation`` and ``test`` frames of the G2 database ``g2`` in ``model``'s recorded split.

    ``train`` is every frame of ``g2`` held out from neither split. Raises
    ``ValueError`` when the model file records no splits.
    """
    splits = model.metadata.get("splits")
    if not splits:
        raise ValueError("the model file records no train/validation/test splits")
    pool = read_frames(g2)
    held_out = set(splits["test"]) | set(splits["validation"])
    return {"train": [f for f, name in zip(pool, frame_ids(pool)) if name not in held_out],
            "validation": select_frames(pool, splits["validation"]),
            "test": select_frames(pool, splits["test"])}


def add_split_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    """The arguments every split-based benchmark takes: ``model``, ``--g2``, ``--larger``."""
    parser.add_argument("model", type=Path, help=model_help)
    parser.add_argument("--g2", type=Path, default=SHARED_DATA / "g2-b3lyp-def2tzvp.db")
    parser.add_argument("--larger", type=Path, default=SHARED_DATA / "larger-b3lyp-def2tzvp.db")


def split_from_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace
                         ) -> tuple[MLHamModel, dict[str, list[ReferenceFrame]], list[ReferenceFrame]]:
    """The model, its recorded G2 split and the larger molecules; a parser error when the model records no split."""
    model = load_model(args.model)
    try:
        split = g2_split(model, args.g2)
    except ValueError as err:
        parser.error(f"{args.model}: {err}")
    return model, split, read_frames(args.larger)
