"""``mlham train`` with every preset of ``ase_mlham.model.settings.PRESETS``, the ablations included.

``mlham train --preset`` offers only the shipped architecture and ``tiny``; the other presets
(``lode``, ``local-hamiltonian``, ``neutral-lode``, ``no-lode``) are the ablations of the model's
history (CHANGELOG.md, docs/benchmarks.md), trained with this script and the same options:

    python benchmarks/train_preset.py ../shared/data/g2-b3lyp-def2tzvp.db --preset neutral-lode --out runs/m.pt
"""

import sys

from ase_mlham.cli import build_parser, main
from ase_mlham.model.settings import PRESETS

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], parser=build_parser(training_presets=sorted(PRESETS))))
