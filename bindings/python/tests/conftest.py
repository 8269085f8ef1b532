"""Shared helpers for the aios binding tests.

The tests run against the real shared library.  Point them at a build with
AIOS_LIBRARY=/path/to/build/lib/libaios.so.1 (or let the package find an
installed one or the checkout's build/).  When the ``aios`` package is not
installed, the source tree's copy is used.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent

try:
    import aios  # noqa: F401  (the installed package, when there is one)
except ModuleNotFoundError as exc:  # running from the source tree
    if exc.name != "aios":
        raise
    sys.path.insert(0, str(HERE.parent))
    import aios  # noqa: F401

import pytest


def repo_root() -> Path:
    """The libaios checkout holding these tests (walk up to lib/libaios.map)."""
    for parent in [HERE, *HERE.parents]:
        if (parent / "lib" / "libaios.map").is_file() and (parent / "CMakeLists.txt").is_file():
            return parent
    raise RuntimeError(f"no libaios checkout above {HERE}")


def package_parent() -> str:
    """The directory to put on PYTHONPATH so a subprocess imports this same aios."""
    return str(Path(aios.__file__).resolve().parent.parent)


def run_python(
    code: str,
    env_update: Optional[Dict[str, Optional[str]]] = None,
    cwd: Optional[str] = None,
    pythonpath: Optional[List[str]] = None,
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter importing the same aios package."""
    env = dict(os.environ)
    for key, value in (env_update or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    paths = pythonpath if pythonpath is not None else [package_parent()]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def header_text(name: str) -> str:
    return (repo_root() / "include" / "aios" / name).read_text()


def strip_c_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def pytest_report_header(config: pytest.Config) -> List[str]:
    return [
        f"aios package: {Path(aios.__file__).parent}",
        f"libaios: {aios.library_path()} ({aios.library_version()})",
    ]


# ------------------------------------------------------------- key helpers

#: Argon2id parameters small enough for tests (1 pass, 8 MiB).
FAST_ARGON2 = {"argon2_ops": 1, "argon2_mem": 8192 * 1024}


@pytest.fixture
def master_key() -> bytearray:
    """A fresh random 32-byte raw master key (a bytearray, so it can be wiped)."""
    return bytearray(os.urandom(32))


@pytest.fixture
def keyring(tmp_path: Path, master_key: bytearray):  # type: ignore[no-untyped-def]
    """A new keyring (raw master key: no Argon2 cost) in tmp_path, closed afterwards."""
    kr = aios.Keyring.create(tmp_path / "keys.akr", master_key=master_key)
    try:
        yield kr
    finally:
        kr.close()
