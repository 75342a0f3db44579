"""Run weldsynth from a checkout without installing: ``python cli.py ...`` == ``weldsynth ...``."""

from weldsynth.cli.main import main

if __name__ == "__main__":
    main()
