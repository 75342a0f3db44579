"""weldsynth: synthetic weld defects, balancing, training and label audit for weld height maps."""

__version__ = "0.1.0"

__all__ = ["__version__"]
