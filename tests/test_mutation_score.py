"""scripts/mutation_score.py on a made-up mutmut run: verdicts plus survivor records give the table and score."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mutation_score.py"


def test_score_counts_records_ranges_timeouts_and_unchecked(tmp_path):
    m = "tinygrad_lite.ops.xǁReLUǁforward__mutmut_"
    codes = {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: -24, 8: -24, 9: 33, 10: None}
    (tmp_path / "mutants" / "tinygrad_lite").mkdir(parents=True)
    (tmp_path / "mutants" / "tinygrad_lite" / "ops.py.meta").write_text(
        json.dumps({"exit_code_by_key": {f"{m}{k}": v for k, v in codes.items()}}))
    (tmp_path / "rec.md").write_text("killed-by-new-test: xǁReLUǁforward__mutmut_3-4 -> t\n"
                                     "equivalent: xǁReLUǁforward__mutmut_5 -> why\n"
                                     "not-done: xǁReLUǁforward__mutmut_6\n"
                                     "timeout-survived: xǁReLUǁforward__mutmut_8 -> re-run\n"
                                     "gpu-only: xǁReLUǁforward__mutmut_9..9 -> cupy\n")

    def run(*args):
        return subprocess.run([sys.executable, str(SCRIPT), *args, "rec.md"], cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout
    out = run()
    # checked 9 (10 has no verdict); killed 1, 2 and the timeout 7; new tests 3, 4; 5 equivalent; 6 and 8 unsorted
    assert "| ops.py | 10 | 9 | 1 | 3 | 1 | 5 | 1 | 2 | 1 | 1 | 2 | 62.5% |" in out
    assert "score 5 / 8 = 62.5%" in out
    assert run("--unsorted").split() == [f"{m}6", f"{m}8"]
    assert run("--unchecked").split() == [f"{m}10"]
