"""Check which mutants a set of tests kills, one forked process per mutant (issue 17's survivor triage).

Run it inside a mutmut run directory (`mutants/`, whose package is trampolined: the environment variable
MUTANT_UNDER_TEST selects one mutant), after copying the test files there:

    cd mutants && python ../scripts/mutation_check.py LIST tests/test_mutation_kills_ops.py [more test files]

LIST has one line per mutant, `<substrings of test names, joined by " or ">|<full mutant name>`. The tests are
collected once in the parent (imports are the slow part on a busy machine); each mutant then runs its selected
tests in a forked child. It prints `orig PASS` for each selection without a mutant (it must pass), then KILLED or
SURVIVED(exit code) per mutant. Killed = at least one selected test fails with the mutant active.
"""
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("HYPOTHESIS_PROFILE", "mutation")
os.environ.pop("MUTANT_UNDER_TEST", None)
import pytest  # noqa: E402
from _pytest.runner import runtestprotocol  # noqa: E402

import tinygrad_lite  # noqa: E402,F401  (imported once here, not in every child)

LINES = [ln.rstrip("\n").split("|") for ln in open(sys.argv[1]) if ln.strip()]


class Check:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        def select(expr):
            subs = [s.strip() for s in expr.split(" or ")]
            return [it for it in session.items if any(s in it.name for s in subs)]

        def run(expr, mutant):
            items = select(expr)
            pid = os.fork()
            if pid == 0:
                if mutant:
                    os.environ["MUTANT_UNDER_TEST"] = mutant
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                for it in items:
                    if any(r.failed for r in runtestprotocol(it, nextitem=None, log=False)):
                        os._exit(1)
                os._exit(0 if items else 5)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

        for expr in sorted({e for e, _ in LINES}):
            rc = run(expr, None)
            print(f"orig {'PASS' if rc == 0 else f'FAIL({rc})'} [{expr}] ({len(select(expr))} tests)", flush=True)
        for expr, mutant in LINES:
            rc = run(expr, mutant)
            print(f"{'KILLED' if rc == 1 else f'SURVIVED({rc})'} {mutant}", flush=True)
        return True


if __name__ == "__main__":
    sys.exit(pytest.main([*sys.argv[2:], "-q", "-p", "no:cacheprovider", "-W", "ignore"], plugins=[Check()]))
