"""What the servable needs of a backend, whatever the model's format."""
from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np


class Runner(Protocol):
    """A loaded model's forward pass. The servable tokenizes, pads, batches
    and caches; a runner only feeds the model and fetches its output."""

    #: The model's format as the status shows it (tf1, saved_model).
    format: str
    #: Whether the model takes text (and tokenizes for itself) rather than ids.
    takes_text: bool
    #: Most ids fed per text.
    max_length: int
    #: The input's fixed width, when the model has one (rows are padded to it).
    fixed_width: int | None

    def run(self, ids: np.ndarray, lengths: np.ndarray,
            parameters: Mapping[str, float] | None = None) -> np.ndarray:
        """Vectors [batch, dim], float32, for padded ids [batch, width] and each
        row's unpadded length; `parameters` are the request's constant feeds."""
        ...

    def run_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts, for a runner that `takes_text`."""
        ...

    def close(self) -> None:
        """Release the model (a replaced version's memory can then go)."""
        ...
