"""Which rows share a model run (pure planning; the runs themselves are in
tests/integration/test_padded_runs.py)."""
import random

import pytest

from embedding_server.serving.padding import MIN_WASTE, plan_runs


def cells(lengths, run):
    return len(run) * max(max(lengths[i] for i in run), 1)


def test_rows_of_like_length_run_together_as_they_are():
    assert plan_runs([6, 14, 9, 12, 7] * 12, None, 65536) is None
    assert plan_runs([10] * 63 + [12], None, 65536) is None
    # Evenly spread lengths pad at most half the run: no cut.
    assert plan_runs(list(range(1, 65)), None, 65536) is None
    assert plan_runs([], None, 65536) is None


def test_one_long_row_among_short_ones_runs_apart():
    lengths = [10] * 15 + [300]
    assert plan_runs(lengths, None, 65536) == [list(range(15)), [15]]


def test_rows_come_back_grouped_shortest_first_and_every_row_once():
    lengths = [400, 3, 5, 380, 4, 2]
    runs = plan_runs(lengths, None, 65536)
    assert runs == [[5, 1, 4, 2], [3, 0]]


def test_a_small_waste_is_not_worth_a_second_run():
    # Padding would be most of the run, but only 27 positions: one run.
    assert plan_runs([1, 1, 1, 10], None, 65536) is None
    # The same shape large enough to matter is cut.
    assert plan_runs([1, 1, 1, MIN_WASTE], None, 65536) == [[0, 1, 2], [3]]


def test_the_token_bound_caps_every_run_of_long_rows():
    lengths = [2000] * 64
    runs = plan_runs(lengths, None, 65536)
    assert [len(run) for run in runs] == [32, 32]
    assert all(cells(lengths, run) <= 65536 for run in runs)
    assert plan_runs(lengths, None, 0) is None  # 0: no bound


def test_a_row_longer_than_the_bound_runs_alone():
    assert plan_runs([5000, 10, 10], None, 4096) == [[1, 2], [0]]


def test_fixed_width_rows_are_cut_only_by_the_bound_and_keep_their_order():
    assert plan_runs([1, 20, 3] * 100, 20, 65536) is None  # 300 rows x 20 ids
    assert plan_runs([1, 20, 3, 7, 2], 20, 40) == [[0, 1], [2, 3], [4]]
    assert plan_runs([1, 2], 20, 10) == [[0], [1]]  # one row each, however wide
    assert plan_runs([1] * 5000, 20, 0) is None


@pytest.mark.parametrize("seed", range(20))
def test_random_batches_are_partitions_within_the_bound(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(0, 15), rng.randint(100, 2000)])
               for _ in range(rng.randint(1, 256))]
    bound = rng.choice([0, 4096, 65536])
    runs = plan_runs(lengths, None, bound) or [list(range(len(lengths)))]
    assert sorted(i for run in runs for i in run) == list(range(len(lengths)))
    assert all(run for run in runs)
    if bound:
        assert all(cells(lengths, run) <= bound or len(run) == 1 for run in runs)
    # Never more padded work than one run of everything.
    assert sum(cells(lengths, run) for run in runs) <= cells(lengths, range(len(lengths)))
