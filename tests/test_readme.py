"""The README can't drift from the code: every command block in it runs, cut short where a full run is long.

What runs (each fenced block of README.md, found wherever it sits):

* ```bash / ```sh / ```shell / ```console blocks: each line (``cmd && cmd`` split), in a scratch folder with the
  repository's files named by absolute path, and this repository's scripts on the same MNIST slice as the python
  blocks (``SLICE_WRAPPER``). ``pip install -e ".[a,b]"`` is not run (it would change the
  environment under the test run): the extras it names must exist in pyproject.toml. ``python -m pytest`` is
  this very run. ``python SCRIPT ...``: run to exit status 0 with no traceback, with the flags of ``SHORTER``
  appended for a script a full run of which is long (argparse keeps the last value of a flag).
* ```python blocks: run in a scratch folder, with ``tl.datasets.load_mnist`` cut to a slice of MNIST (the first
  2,000 training and 1,000 test images) so a training loop takes seconds; the quickstart also prints exactly
  the values its comments show, and the port snippet's full epoch is checked by hand with ``-m slow``.

A block that can't run in a test (a GPU, a server that never exits, a long job) carries, on the line just above
its opening fence, an HTML comment that GitHub does not show::

    <!-- readme-test: skip (needs a GPU) -->

Each such block becomes a skipped test with that reason, so the run's "skipped, by cause" summary lists it.
Commands are also skipped, saying why, when they need MPI that is not installed or ask for ``--device gpu``
without one; a program in ``NOT_RUN`` (a server: ``tensorboard``) is left out while the rest of its block runs,
and the test then skips naming it; any other program fails with a message saying how to mark its block.
"""
import contextlib
import doctest
import importlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from conftest import MNIST_DIR, mnist_home, needs_mnist

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHELL_LANGS = {"bash", "sh", "shell", "console"}
SKIP_MARK = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>.+)\)\s*-->")

# Flags appended to a README command that runs one of these scripts, so it finishes in seconds.
SHORTER = {
    "examples/mnist.py": ["--epochs", "1", "--limit", "1000", "--quiet", "--no-plots", "--no-download"],
    "examples/iris.py": ["--epochs", "5", "--quiet"],
    "scripts/reproduce.py": ["--quick", "--only", "xor", "--out", "reproduction-quick.md"],
    "benchmarks/mnist_mlp.py": ["--epochs", "1", "--configs", "1", "--no-torch"],
}
TIMEOUT = 300
# A README command that runs a script of this repository runs it under this wrapper: tl.datasets.load_mnist cut to
# the first 2,000 training and 1,000 test images (the test set is what --limit leaves whole), the script's own
# argv and exit status kept. The same slice as the python blocks get.
SLICE_WRAPPER = """\
import runpy, sys
import tinygrad_lite as tl
_load_mnist = tl.datasets.load_mnist
def load_mnist(*args, **kwargs):
    (x, t), (xt, tt) = _load_mnist(*args, **kwargs)
    return (x[:2000], t[:2000]), (xt[:1000], tt[:1000])
tl.datasets.load_mnist = load_mnist
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
# Programs a README command may name that a test must not start; the block's other commands still run, and the
# test then skips, naming what it left out and why.
NOT_RUN = {"tensorboard": "starts a server that runs until stopped (look at it on http://localhost:6006)"}


# ---------------------------------------------------------------- extraction
def readme_blocks(text=None):
    """[(line, lang, code, skip_reason)] for every fenced block of the README (line: the opening fence's, 1-based)."""
    lines = (README.read_text() if text is None else text).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        code = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j])
        above = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        skip = SKIP_MARK.search(above)
        blocks.append((i + 1, lang.lower(), code, skip.group("reason").strip() if skip else None))
        i = j + 1
    return blocks


def block_id(block):
    line, lang, _, _ = block
    return f"L{line}-{lang or 'text'}"


def commands(code):
    """The commands of a shell block: comments and prompts dropped, continuation lines joined, && split."""
    joined = re.sub(r"\\\n", " ", code)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"^\s*[$>]\s+", "", line)                          # a console prompt
        try:
            words = shlex.split(line, comments=True)
        except ValueError:                                               # unbalanced quotes: leave to the shell
            words = line.split()
        cmd = []
        for w in words + ["&&"]:
            if w in ("&&", ";"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


def _extras():
    """pyproject.toml's extras: {name: [requirement, ...]}."""
    import tomllib
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    return conf["project"].get("optional-dependencies", {})


def missing_requirements(extras):
    """The distributions the named extras need that are not installed here (markers for other platforms ignored)."""
    from importlib import metadata
    missing = []
    for extra in extras:
        for req in _extras().get(extra, []):
            try:
                from packaging.requirements import Requirement
                r = Requirement(req)
                if r.marker is not None and not r.marker.evaluate({"extra": extra}):
                    continue
                name = r.name
            except ImportError:                   # (packaging comes with pytest; a plain parse otherwise)
                name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0)
            if name.replace("-", "_").lower() == "tinygrad_lite":
                continue
            try:
                metadata.distribution(name)
            except metadata.PackageNotFoundError:
                missing.append(name)
    return missing


def check_pip(cmd):
    """`pip install -e ".[a,b]"`: the extras exist (nothing is installed); returns what of them is not installed."""
    assert "-e" in cmd or "--editable" in cmd, f"README: {' '.join(cmd)}: expected an editable install of the checkout"
    target = cmd[-1]
    m = re.fullmatch(r"\.(?:\[([\w,\s-]+)\])?", target)
    assert m, f"README: {' '.join(cmd)}: expected `pip install -e \".[extras]\"`"
    if m.group(1):
        if sys.version_info < (3, 11):
            pytest.skip("reading pyproject.toml needs Python >= 3.11 (tomllib)")
        extras = [e.strip() for e in m.group(1).split(",")]
        unknown = set(extras) - set(_extras())
        assert not unknown, f"README: {' '.join(cmd)} names extras pyproject.toml lacks: {sorted(unknown)}"
        return missing_requirements(extras)
    return []


def run_command(cmd, tmp):
    """Run one README command (cut short by SHORTER) in `tmp`; skip where it can't run here."""
    prog = cmd[0]
    if prog in ("pip", "pip3") or cmd[:3] in (["python", "-m", "pip"], ["python3", "-m", "pip"]):
        if "install" in cmd and ("-e" in cmd or "--editable" in cmd):
            missing = check_pip(cmd)
            if missing:                            # the block's next commands need what this would install
                return f"not installed: {', '.join(missing)}"
            return "checked: extras exist"
        if "install" in cmd:
            return "not run: installs third-party packages"
    if prog in NOT_RUN:
        return f"not run: {prog} {NOT_RUN[prog]}"
    if prog in ("python", "python3") and cmd[1:3] == ["-m", "pytest"]:
        return "this run"
    if "--device" in cmd and cmd[cmd.index("--device") + 1:][:1] in (["gpu"], ["cuda"]) and not tl.gpu_available():
        pytest.skip(f"README command needs a GPU (CuPy and a device): {' '.join(cmd)}")
    if prog in ("mpiexec", "mpirun") and shutil.which(prog) is None:
        pytest.skip(f"README command needs MPI ({prog}), which is not installed: {' '.join(cmd)}")
    if prog not in ("python", "python3", "mpiexec", "mpirun"):
        pytest.fail(f"README command {' '.join(cmd)!r} is neither a python, pip, pytest nor mpiexec command: mark "
                    f"its block with <!-- readme-test: skip (why) --> above the fence, or teach tests/test_readme.py "
                    f"to run it")
    args = []
    for i, w in enumerate(cmd):
        path = REPO / w
        if w in ("python", "python3"):
            args.append(sys.executable)
            if i + 1 < len(cmd) and cmd[i + 1].endswith(".py") and (REPO / cmd[i + 1]).is_file():
                args += ["-c", SLICE_WRAPPER]          # one of ours: on the MNIST slice
        else:
            args.append(str(path) if not w.startswith("-") and "/" in w and path.exists() else w)
    for script in (w for w in cmd if w in SHORTER):
        args += SHORTER[script]
    dataset = cmd[cmd.index("--dataset") + 1] if "--dataset" in cmd[:-1] else "mnist"
    if dataset == "digits":
        pytest.importorskip("sklearn", reason=f"README command needs scikit-learn (pip install scikit-learn): "
                                              f"{' '.join(cmd)}")
    elif dataset == "fashion-mnist" and tl.datasets.locate("fashion-mnist") is None:
        pytest.skip(f"Fashion-MNIST data not found (apt-get install -y dataset-fashion-mnist): {' '.join(cmd)}")
    elif any(w in ("examples/mnist.py", "examples/predict.py", "scripts/reproduce.py") for w in cmd):
        needs_mnist()
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if MNIST_DIR is not None:
        env["TINYGRAD_LITE_DATA"] = str(mnist_home())
    p = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and "Traceback" not in p.stderr, \
        f"README command {' '.join(cmd)} (run as {' '.join(a for a in args if a != SLICE_WRAPPER)}) exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p.stdout


BLOCKS = readme_blocks()
SHELL_BLOCKS = [b for b in BLOCKS if b[1] in SHELL_LANGS]
PYTHON_BLOCKS = [b for b in BLOCKS if b[1] == "python"]


def test_extraction_finds_the_set_up_and_marks():
    """The parser sees the blocks wherever they sit, and the skip mark with its reason."""
    text = ("# t\n\n```bash\npip install -e \".[tools]\" && python examples/gates.py   # a comment\n```\n"
            "  <!-- readme-test: skip (needs a GPU) -->\n  ```bash\n  python examples/mnist.py --device gpu\n  ```\n"
            "```python\nprint(1)\n```\n```\nan output\n```\n")
    blocks = readme_blocks(text)
    assert [(b[0], b[1], b[3]) for b in blocks] == [(3, "bash", None), (7, "bash", "needs a GPU"),
                                                    (10, "python", None), (13, "", None)]
    assert commands(blocks[0][2]) == [["pip", "install", "-e", ".[tools]"], ["python", "examples/gates.py"]]
    assert commands("$ python a.py \\\n  --x 1 ; python b.py") == [["python", "a.py", "--x", "1"], ["python", "b.py"]]
    assert len(SHELL_BLOCKS) >= 2 and len(PYTHON_BLOCKS) >= 2, "the README's set-up, quickstart and port snippet"
    for b in BLOCKS:
        assert b[3] is None or len(b[3]) > 3, f"README block at line {b[0]}: a skip mark needs a reason"


def test_pip_extras_are_checked(tmp_path, monkeypatch):
    with pytest.raises(AssertionError, match="lacks"):
        run_command(["pip", "install", "-e", ".[tools,nosuchextra]"], tmp_path)
    assert run_command(["pip", "install", "-e", ".[tools]"], tmp_path) == "checked: extras exist"
    extras = _extras()
    fake = {**extras, "phantom": ["surely-not-a-distribution-xyz>=1", "numpy"]}
    monkeypatch.setattr(sys.modules[__name__], "_extras", lambda: fake)
    assert run_command(["pip", "install", "-e", ".[phantom]"], tmp_path) == \
        "not installed: surely-not-a-distribution-xyz"
    assert run_command(["tensorboard", "--logdir", "runs"], tmp_path).startswith("not run: tensorboard starts a server")
    with pytest.raises(pytest.fail.Exception, match="readme-test: skip"):
        run_command(["make", "everything"], tmp_path)


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=block_id)
def test_readme_shell_block_runs(block, tmp_path):
    line, _, code, skip = block
    if skip:
        pytest.skip(f"README block at line {line} not run: {skip}")
    cmds = commands(code)
    assert cmds, f"README block at line {line} holds no command"
    left_out = []
    for cmd in cmds:
        result = run_command(cmd, tmp_path)
        if isinstance(result, str) and result.startswith("not installed: "):
            pytest.skip(f"README block at line {line} needs {cmd[-1]} (what `{' '.join(cmd)}` installs): "
                        f"{result[len('not installed: '):]} missing here")
        if isinstance(result, str) and result.startswith("not run: ") and cmd[0] in NOT_RUN:
            left_out.append(result[len("not run: "):])
    if left_out:
        pytest.skip(f"README block at line {line}: the rest ran; not run: {'; '.join(left_out)}")


# ---------------------------------------------------------------- python blocks
@pytest.fixture
def mnist_slice(monkeypatch):
    """tl.datasets.load_mnist cut to the first 2,000 training and 1,000 test images (from where tl finds MNIST)."""
    folder = needs_mnist()
    real = tl.datasets.load_mnist

    def load_mnist(*args, **kwargs):
        kwargs.setdefault("root", folder)
        key = repr((args, sorted(kwargs.items())))
        if key not in _SLICES:                       # read once per run: decompressing MNIST is the slow part
            (x, t), (xt, tt) = real(*args, **kwargs)
            _SLICES[key] = (x[:2000].copy(), t[:2000].copy()), (xt[:1000].copy(), tt[:1000].copy())
        (x, t), (xt, tt) = _SLICES[key]
        return (x.copy(), t.copy()), (xt.copy(), tt.copy())
    monkeypatch.setattr(tl.datasets, "load_mnist", load_mnist)


_SLICES = {}


def exec_block(code, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {"__name__": "__readme__"})
    return out.getvalue()


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=block_id)
def test_readme_python_block_runs(block, tmp_path, monkeypatch, request):
    line, _, code, skip = block
    if skip:
        pytest.skip(f"README block at line {line} not run: {skip}")
    if code == _port_block():
        return                                       # run, with its checks, by test_port_snippet_on_a_slice
    if "mnist" in code.lower():
        request.getfixturevalue("mnist_slice")
    monkeypatch.chdir(tmp_path)                      # what a block saves lands in a scratch folder
    try:
        exec_block(code, f"README.md block at line {line}")
    except ModuleNotFoundError as e:                 # an optional package the block imports (torch, ...)
        if e.name and e.name.split(".")[0] not in ("tinygrad_lite", "numpy"):
            pytest.skip(f"README block at line {line} needs {e.name}: pip install {e.name.split('.')[0]}")
        raise
    except Exception as e:  # noqa: BLE001 - say which block and what to do
        pytest.fail(f"README.md's python block at line {line} raised {type(e).__name__}: {e}\nMake it run as "
                    "shown (each block runs on its own, in a scratch folder, with MNIST cut to a slice), or "
                    "mark it with <!-- readme-test: skip (why) --> on the line above its fence")


# ---------------------------------------------------------------- the quickstart and the port snippet, exactly
def _section_block(title):
    text = README.read_text()
    section = text[text.index(title):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _port_block():
    return next(code for _, lang, code, _ in PYTHON_BLOCKS if "tl.datasets.load_mnist()" in code and "optim." in code)


def test_quickstart_prints_what_the_readme_says():
    code = _section_block("## Quickstart")
    expected = []                       # the printed lines, from `print(...)  # value` and its continuation comments
    for line in code.splitlines():
        m = re.match(r"print\(.*\)\s+# (.*)$", line)
        if m:
            expected.append(m.group(1).rstrip())
        elif expected and re.match(r"\s+# ", line):
            expected[-1] += "\n" + line.split("# ", 1)[1].rstrip()
    assert len(expected) >= 4, "the quickstart should show the numbers it prints"
    printed = exec_block(code, "README quickstart").rstrip("\n")
    assert printed == "\n".join(expected), printed


def test_port_snippet_on_a_slice(mnist_slice, tmp_path, monkeypatch):
    """The port snippet as shown, on 2,000 training images: it learns (the full epoch: -m slow) and saves."""
    code = _port_block()
    assert re.search(r"# ~0\.9\d after (this )?one epoch", code), "the README's accuracy comment names its epoch"
    monkeypatch.chdir(tmp_path)
    acc = float(exec_block(code, "README port snippet").split()[-1])
    assert 0.75 < acc <= 1.0
    saved = tl.load(tmp_path / "mlp.safetensors")
    assert sorted(saved) == ["0.bias", "0.weight", "2.bias", "2.weight"] and saved["0.weight"].shape == (1000, 784)


@pytest.mark.slow
def test_port_snippet_full_epoch_reaches_what_the_readme_says(tmp_path, monkeypatch):
    needs_mnist()
    code = _port_block()
    claimed = float(re.search(r"# ~(0\.9\d)", code).group(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(mnist_home()))
    acc = float(exec_block(code, "README port snippet").split()[-1])
    assert acc >= claimed - 0.01, acc


@pytest.mark.parametrize("module", ["tinygrad_lite", "tinygrad_lite.tensor", "tinygrad_lite.gradcheck",
                                    "tinygrad_lite.nn.init", "tinygrad_lite.models.mnist_nets",
                                    "tinygrad_lite.threads"])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(importlib.import_module(module), verbose=False)[:2]
    assert tried > 0 and failures == 0


def test_readme_mnist_claims_match_the_example():
    """The set-up's accuracy and epochs are the default recipe's, and the data folder is the cache the library uses."""
    text = README.read_text()
    setup = text[:text.index("## Quickstart")]
    import tinygrad_lite.models as M
    recipe = M.RECIPES[M.DEFAULT_MNIST_RECIPE]
    assert f"{recipe.epochs} epochs" in setup
    assert "~/.cache/tinygrad_lite/mnist" in setup
    assert "venv" in setup
    assert np.isclose(recipe.target, 0.97)
