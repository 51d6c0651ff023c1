"""scripts/swap_memory.py's leak figure: one stray reading must not move it, a leak must."""
import pytest

from tests.conftest import load_script


growth = load_script("swap_memory").second_half_growth


def test_one_dip_in_the_earlier_half_is_not_growth():
    # Read in a CI run: flat around 800 MB but for one reading after swap 3.
    rss = [740.2, 800.4, 804.1, 773.7, 801.2, 803.3, 804.3]
    assert growth(rss) == pytest.approx(803.3 - 800.4)


def test_one_peak_in_the_later_half_is_not_growth():
    assert growth([600, 700, 701, 699, 700, 760, 701]) == pytest.approx(1)


def test_a_version_leaked_each_swap_shows_three_of_them_over_six_swaps():
    rss = [600] + [700 + 30 * swap for swap in range(6)]
    assert growth(rss) == pytest.approx(90)


def test_the_middle_swap_of_an_odd_count_is_in_neither_half():
    assert growth([0, 10, 20, 1000, 30, 40]) == pytest.approx(35 - 15)


def test_the_start_is_left_out():
    assert growth([10_000, 5, 5]) == 0


def test_one_swap_has_no_halves():
    with pytest.raises(ValueError):
        growth([600, 700])
