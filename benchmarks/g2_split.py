"""The G2 pool split as a model file records it, for the benchmarks that refit on a model's training frames.

Run as a script, it writes that split as databases (the rows copied unchanged), e.g. v12's:

    git show 2c0d2ce:ase_mlham/models/default.pt > runs/v12.pt
    python benchmarks/g2_split.py runs/v12.pt --pool ../shared/data/g2-b3lyp-def2tzvp.db \
        runs/data/al1-a.db runs/data/al1-b.db --out runs/split/v12
    # -> runs/split/v12-train.db, runs/split/v12-validation.db, runs/split/v12-test.db
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ase.db

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


def write_split(model: MLHamModel, pools: list[Path], out: str) -> dict[str, int]:
    """Copy the rows of ``pools`` into ``{out}-train.db``, ``-validation.db`` and ``-test.db`` by ``model``'s split.

    Frames named in neither recorded split are training frames. Returns the number of rows per split.
    """
    splits = model.metadata.get("splits")
    if not splits:
        raise ValueError("the model file records no train/validation/test splits")
    part = {name: split for split in ("validation", "test") for name in splits[split]}
    counts = {"train": 0, "validation": 0, "test": 0}
    targets = {split: ase.db.connect(f"{out}-{split}.db", append=False) for split in counts}
    for pool in pools:
        frames = read_frames(pool)
        source = ase.db.connect(pool)
        for frame, name in zip(frames, frame_ids(frames)):
            split = part.get(name, "train")
            row = source.get(id=frame.row_id)
            targets[split].write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=row.data)
            counts[split] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description="Write a model's recorded split of its pool databases.")
    parser.add_argument("model", type=Path)
    parser.add_argument("--pool", type=Path, nargs="+", required=True, help="databases the model was split on")
    parser.add_argument("--out", required=True, help="prefix of the written databases, e.g. runs/split/v12")
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    counts = write_split(load_model(args.model), args.pool, args.out)
    print(", ".join(f"{split}: {n} frames" for split, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
