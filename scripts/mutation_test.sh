#!/usr/bin/env bash
# Mutation testing (issue 17): plants one small bug at a time in ops.py (and elementwise.py, movement.py,
# reductions.py, conv.py, losses.py), the engine in tensor.py,
# nn/functional.py and optim.py, and runs the tests that call the mutated function; a mutant the tests
# don't catch "survives". Too slow for CI: run it by hand, then record the score and every survivor
# (killed by a new test, or explained as equivalent) in docs/testing.md.
#
#   pip install -e ".[mutation]"          # or: pip install mutmut==3.8.1
#   nice -n 10 bash scripts/mutation_test.sh [MUTANT_GLOB ...]   # default: every target below
#   JOBS=2 ...                            # parallel test processes (default 1)
#
# mutmut copies the package and the tests to mutants/ (git-ignored) and keeps its results there. It re-runs every
# mutant it is given by name, checked or not (the default globs below included), so to resume an interrupted run
# name only the unchecked ones:  RESUME=1 bash scripts/mutation_test.sh  (scripts/mutation_score.py --unchecked;
# the engine's mutants are screened apart, docs/testing.md). `mutmut results` lists survivors; `mutmut show NAME`
# shows one.
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=mutation MPLBACKEND=Agg
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1   # forked workers: no thread pools
unset PYTHONPATH                      # the tests must import the mutated copy in mutants/, not this checkout
if [ -n "${RESUME:-}" ] && [ -d mutants ]; then
  set -- $(python scripts/mutation_score.py --unchecked)
  [ $# -gt 0 ] || { echo "every mutant has a verdict"; exit 0; }
elif [ $# -eq 0 ]; then
  set -- "tinygrad_lite.ops.*" "tinygrad_lite.nn.functional.*" "tinygrad_lite.optim.*" "tinygrad_lite.elementwise.*" "tinygrad_lite.movement.*" "tinygrad_lite.reductions.*" "tinygrad_lite.conv.*" "tinygrad_lite.losses.*" \
         "tinygrad_lite.tensor.x__run_backward*" "tinygrad_lite.tensor.x__pend*" \
         "tinygrad_lite.tensor.x__accumulate*" "tinygrad_lite.tensor.x__toposort*" \
         "tinygrad_lite.tensor.xǁTensorǁbackward*" "tinygrad_lite.tensor.xǁTensorǁretain_grad*"
fi
python -m mutmut run --max-children "${JOBS:-1}" "$@"
python -m mutmut results --all false 2>/dev/null || python -m mutmut results
