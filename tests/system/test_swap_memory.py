"""scripts/swap_memory.py end to end: hot swaps give the replaced version's memory back."""
import re
import subprocess
import sys

from tests.conftest import ROOT


def test_swaps_do_not_grow_the_worker(models_dir, tmp_path):
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "swap_memory.py"), "--swaps", "6",
         "--models-dir", str(models_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = re.search(r"RESULT swaps=6 .* growth_second_half_mb=(-?[\d.]+)", completed.stdout)
    assert result, completed.stdout
    # A version of bow-spanish holds ~30 MB of weights alone: a leaked version
    # a swap would put the later half's median (swap 5) 90 MB above the
    # earlier half's (swap 2).
    assert float(result.group(1)) < 30, completed.stdout
