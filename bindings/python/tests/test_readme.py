"""The README's Python examples run as written."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import HERE

# The allocator snippet needs a fresh process and a real allocator:
# test_allocator.py covers it.
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", (HERE.parent / "README.md").read_text(), flags=re.S)
    if "my_allocator" not in block
]


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int) -> None:
    code = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md[{index}]", "exec"), {})
    if "LimitExceededError" in code:
        assert out.getvalue().startswith("AIOS_E_LIMIT limit aios_buffer_new:")
