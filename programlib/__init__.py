"""Library shared by every scoring and ingestion program.

The builder vendors this package into each program zip, so a program runs standalone inside
Codabench's container: it may import only the standard library and what the task's docker image
provides (numpy, pandas, pyarrow, scikit-learn, matplotlib, pyyaml for the CPU image).
"""
from .errors import SubmissionError

__all__ = ["SubmissionError"]
