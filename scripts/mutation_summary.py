"""Summarise a mutmut run (scripts/mutation_test.sh) by module: killed, survived, timeouts, not yet checked.

    python scripts/mutation_summary.py [--survivors] [--diffs]   # from the repo root, after or during a run

--diffs prints each survivor's changed line(s) beside the original, read from mutmut's trampolined copies
in mutants/ (much faster than `mutmut show` one at a time).
"""
import difflib
import fnmatch
import glob
import json
import re
import sys
from collections import Counter, defaultdict

TARGETS = ["tinygrad_lite.ops.*", "tinygrad_lite.nn.functional.*", "tinygrad_lite.optim.*",
           "tinygrad_lite.elementwise.*", "tinygrad_lite.movement.*", "tinygrad_lite.reductions.*", "tinygrad_lite.conv.*",
           "tinygrad_lite.tensor.x__run_backward*", "tinygrad_lite.tensor.x__pend*",
           "tinygrad_lite.tensor.x__accumulate*", "tinygrad_lite.tensor.x__toposort*",
           "tinygrad_lite.tensor.xǁTensorǁbackward*", "tinygrad_lite.tensor.xǁTensorǁretain_grad*"]
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"}


def main():
    by_module, survivors = defaultdict(Counter), []
    for f in sorted(glob.glob("mutants/tinygrad_lite/**/*.meta", recursive=True)):
        for name, code in json.load(open(f))["exit_code_by_key"].items():
            if not any(fnmatch.fnmatch(name, p) for p in TARGETS):
                continue
            module = name.split(".x")[0] if ".x" in name else name
            status = STATUS.get(code, "suspicious")
            by_module[module][status] += 1
            if status in ("survived", "no tests", "suspicious", "timeout"):
                survivors.append((status, name))
    total = Counter()
    for module, c in sorted(by_module.items()):
        total.update(c)
        print(f"{module:32s} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    checked = total["killed"] + total["survived"] + total["no tests"] + total["timeout"] + total["suspicious"]
    print(f"{'all':32s} " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    if checked:
        print(f"killed {total['killed'] + total['timeout']} of {checked} checked "
              f"({100 * (total['killed'] + total['timeout']) / checked:.1f}%, timeouts counted as killed)")
    if "--survivors" in sys.argv or "--diffs" in sys.argv:
        sources = {}
        for status, name in survivors:
            print(status, name)
            if "--diffs" in sys.argv:
                for line in diff(name, sources):
                    print("    " + line)


def diff(name, sources):
    """The lines mutant `name` changes: '-' the original's, '+' the mutant's."""
    module, _, func = name.partition(".x")
    path = "mutants/" + module.replace(".", "/") + ".py"
    if path not in sources:
        sources[path] = open(path).read()
    src = sources[path]
    fname = "x" + func
    base = fname.rsplit("__mutmut_", 1)[0]

    def body(n):
        m = re.search(rf"^(\s*)def {re.escape(n)}\(.*?(?=^\1(?:def |@|class )|^\S|\Z)", src, re.S | re.M)
        return m.group(0).splitlines()[1:] if m else []
    out = [ln for ln in difflib.unified_diff(body(base + "__mutmut_orig"), body(fname), lineterm="", n=0)
           if ln[:1] in "+-" and not ln.startswith(("+++", "---", "-def ", "+def "))]
    return out


if __name__ == "__main__":
    main()
