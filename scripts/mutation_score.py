"""The mutation score after triage (issue 17): mutmut's verdicts in mutants/ plus the survivor records.

    python scripts/mutation_score.py [--unsorted | --unchecked] RECORD.md ...   # from the directory holding mutants/
    e.g. python scripts/mutation_score.py docs/mutation-survivors.md

A record line starts with `killed...`, `equivalent` or `gpu-only` and names mutants as mutmut does, compressed:
`xǁFooǁbar__mutmut_3,5,7-9` or `..` ranges (docs/mutation-survivors.md is the format); a line starting
`timeout-survived` names timeouts that survived a re-run without a time limit (counted as survivors).
Prints a markdown table by module (the engine's functions in tensor.py are screened apart, see
docs/testing.md): killed by mutmut (timeouts included unless a record sorts them), survived, "no tests",
and of those the ones a record kills, explains or marks GPU-only; score = (killed + killed by a new test) /
(checked - equivalent). --unsorted lists the survivors no record sorts; --unchecked the mutants without a verdict
(what to name to resume a run: mutmut re-runs every mutant it is given by name, checked or not).
"""
import glob
import json
import re
import sys
from collections import Counter, defaultdict

PAT = re.compile(r"([A-Za-zǁ_0-9.]+?)__mutmut_((?:\d+(?:(?:-|\.\.)\d+)?)(?:,\s?\d+(?:(?:-|\.\.)\d+)?)*)")
KILLED = {1, 3, -24, 24, 36, 152, 255}       # a failing test, or a timeout
COLS = ["generated", "checked", "unchecked", "killed", "timeout", "survived", "no tests", "new test", "equivalent",
        "gpu-only", "unsorted"]


def records(paths):
    """mutant short name (after the module) -> 'killed' | 'equivalent' | 'gpu', from the record lines."""
    cls = {}
    for path in paths:
        for line in open(path, encoding="utf-8"):
            low = line.lower().lstrip("-* ")
            kind = next((v for k, v in (("killed", "killed"), ("equivalent", "equivalent"), ("gpu-only", "gpu"),
                                        ("gpu only", "gpu"), ("timeout-survived", "survived")) if low.startswith(k)),
                        None)
            if kind is None:
                continue
            for base, nums in PAT.findall(line):
                for part in re.split(r",\s?", nums):
                    a, b = map(int, re.split(r"-|\.\.", part)) if ("-" in part or ".." in part) else (int(part),) * 2
                    for n in range(a, b + 1):
                        cls.setdefault(f"{base.split('.')[-1]}__mutmut_{n}", kind)
    return cls


def main(argv):
    unsorted_only, unchecked_only = "--unsorted" in argv, "--unchecked" in argv
    cls = records([a for a in argv if not a.startswith("--")])
    rows, unsorted, unchecked = defaultdict(Counter), [], []
    for f in sorted(glob.glob("mutants/tinygrad_lite/**/*.meta", recursive=True)):
        if f.endswith("tensor.py.meta"):
            continue
        mod = f.split("mutants/tinygrad_lite/")[1][:-len(".meta")]
        for name, code in json.load(open(f))["exit_code_by_key"].items():
            r, kind = rows[mod], cls.get(name.split(".")[-1])
            r["generated"] += 1
            if code is None:
                r["unchecked"] += 1
                unchecked.append(name)
                continue
            r["checked"] += 1
            if code in (1, 3) or (code in KILLED and kind is None):     # a failing test, or a timeout
                r["killed"] += 1
                r["timeout"] += code not in (1, 3)
                continue
            r["no tests" if code == 33 else "survived"] += 1
            r[{"killed": "new test", "equivalent": "equivalent", "gpu": "gpu-only"}.get(kind, "unsorted")] += 1
            if kind in (None, "survived"):
                unsorted.append(name)
    if unsorted_only or unchecked_only:
        print("\n".join(unsorted if unsorted_only else unchecked))
        return 0
    total = Counter()
    for r in rows.values():
        total.update(r)
    print("| module | " + " | ".join(COLS) + " | score |")
    print("|---" * (len(COLS) + 2) + "|")
    for mod, r in sorted(rows.items()) + [("**all**", total)]:
        den = r["checked"] - r["equivalent"]
        print(f"| {mod} | " + " | ".join(f"{r[c]:,}" for c in COLS) +
              f" | {(r['killed'] + r['new test']) / den:.1%} |" if den else " | - |")
    den = total["checked"] - total["equivalent"]
    kills = total["killed"] + total["new test"]
    print(f"\nscore {kills:,} / {den:,} = {kills / den:.1%}; "
          f"with the {total['timeout']} timeouts counted as survivors: "
          f"{(total['killed'] - total['timeout'] + total['new test']) / den:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
