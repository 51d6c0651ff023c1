"""Which rows share a model run: by length, for models padded to each run's
longest row, and by a bound on padded ids, for every model.

A model padded per run (lstm-multilingual) computes every padded position, so one
long text in a batch of short ones makes the whole batch pay for its
length, which running it apart avoids. As sentence-transformers does
before it batches, rows are sorted by length; they are then cut into runs
where padding would be most of a run, and where a run would pass a bound
on padded ids (its memory: an LSTM keeps every step's output).
"""
from __future__ import annotations

from typing import Sequence

#: Padded positions a cut must save at least. A second model run has its
#: own fixed cost (~1.5 ms on the LSTM, what 70 to 125 padded positions cost
#: in runs of 16 to 64 rows); below this, a cut could cost more than it saves.
MIN_WASTE = 256


def plan_runs(lengths: Sequence[int], fixed_width: int | None,
              max_tokens: int) -> list[list[int]] | None:
    """Row indices grouped into model runs, or None when one run of all
    rows, in their order, is the plan (the usual case: rows of like length).

    `fixed_width`: the model's static input width, which every row is padded
    to whatever its length; its runs are cut only by `max_tokens`, the most
    padded ids a run may hold (0: no bound; a row longer than it runs alone).
    Otherwise rows are taken shortest first, and the next row starts a new
    run when widening the run to it would make padding both more than half
    the run's ids and more than MIN_WASTE of them, or pass `max_tokens`.
    """
    count = len(lengths)
    if fixed_width:
        per_run = max(1, max_tokens // fixed_width) if max_tokens else count
        if count <= per_run:
            return None
        return [list(range(start, min(start + per_run, count)))
                for start in range(0, count, per_run)]
    widths = [max(length, 1) for length in lengths]  # a run is at least 1 wide
    real, padded = sum(widths), count * max(widths, default=1)
    if padded - real <= max(real, MIN_WASTE) and (not max_tokens or padded <= max_tokens):
        return None
    runs: list[list[int]] = []
    run: list[int] = []
    run_real = 0
    for index in sorted(range(count), key=widths.__getitem__):
        width = widths[index]  # the run's widest row: rows come shortest first
        cells = (len(run) + 1) * width
        waste = cells - run_real - width
        if run and (waste > max(run_real + width, MIN_WASTE)
                    or (max_tokens and cells > max_tokens)):
            runs.append(run)
            run, run_real = [], 0
        run.append(index)
        run_real += width
    runs.append(run)
    return runs if len(runs) > 1 else None
