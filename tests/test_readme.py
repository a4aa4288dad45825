"""The README's quickstart runs and prints what the README says it prints; the package docstring's example too."""
import contextlib
import doctest
import importlib
import io
import re
from pathlib import Path

import pytest

import tinygrad_lite  # noqa: F401

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart_block():
    text = README.read_text()
    section = text[text.index("## Quickstart"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_prints_what_the_readme_says():
    code = _quickstart_block()
    expected = []                       # the printed lines, from `print(...)  # value` and its continuation comments
    for line in code.splitlines():
        m = re.match(r"print\(.*\)\s+# (.*)$", line)
        if m:
            expected.append(m.group(1).rstrip())
        elif expected and re.match(r"\s+# ", line):
            expected[-1] += "\n" + line.split("# ", 1)[1].rstrip()
    assert len(expected) >= 4, "the quickstart should show the numbers it prints"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README quickstart", "exec"), {})
    printed = out.getvalue().rstrip("\n")
    assert printed == "\n".join(expected), printed


@pytest.mark.parametrize("module", ["tinygrad_lite", "tinygrad_lite.tensor", "tinygrad_lite.gradcheck",
                                    "tinygrad_lite.nn.init", "tinygrad_lite.models.mnist_nets"])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(importlib.import_module(module), verbose=False)[:2]
    assert tried > 0 and failures == 0
