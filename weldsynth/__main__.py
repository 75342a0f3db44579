"""``python -m weldsynth ...`` == ``weldsynth ...`` (also what ``torchrun -m weldsynth`` runs)."""

from weldsynth.cli.main import main

main()
