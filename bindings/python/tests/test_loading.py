"""Finding and loading libaios.so.1 (each case in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

import aios
from aios import _ffi

from conftest import repo_root, run_python

REPORT_IMPORT_ERROR = """
import json
try:
    import aios
except ImportError as exc:
    print(json.dumps({"class": type(exc).__name__,
                      "mro": [c.__name__ for c in type(exc).__mro__],
                      "message": str(exc),
                      "tried": [list(t) for t in getattr(exc, "tried", ())]}))
else:
    print(json.dumps({"class": None, "path": aios.library_path()}))
"""

CLEAN_ENV: Dict[str, Optional[str]] = {"AIOS_LIBRARY": None, "LD_LIBRARY_PATH": None}


def import_report(env: Dict[str, Optional[str]], **kwargs: object) -> dict:
    proc = run_python(REPORT_IMPORT_ERROR, env_update=env, **kwargs)  # type: ignore[arg-type]
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def real_library_file() -> Path:
    return Path(aios.library_path()).resolve()


# ------------------------------------------------------------ AIOS_LIBRARY


def test_aios_library_pointing_nowhere(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "libaios.so.1"
    report = import_report({"AIOS_LIBRARY": str(missing)})
    assert report["class"] == "LibraryNotFoundError"
    assert "ImportError" in report["mro"]
    message = report["message"]
    assert str(missing) in message and "not found" in message
    assert "AIOS_LIBRARY" in message and "full path" in message
    assert "libaios.so.1" in message
    # Explicit means exclusive: nothing else was tried.
    assert len(report["tried"]) == 1


def test_aios_library_with_another_abi_major(tmp_path: Path) -> None:
    data = real_library_file().read_bytes()
    assert b"libaios.so.1\x00" in data
    fake = tmp_path / "libaios.so.1"
    fake.write_bytes(data.replace(b"libaios.so.1\x00", b"libaios.so.2\x00"))
    assert _ffi.elf_soname(str(fake)) == "libaios.so.2"
    report = import_report({"AIOS_LIBRARY": str(fake)})
    assert report["class"] == "LibraryNotFoundError"
    assert "SONAME is libaios.so.2" in report["message"]


def test_aios_library_not_a_library(tmp_path: Path) -> None:
    junk = tmp_path / "libaios.so.1"
    junk.write_text("not an ELF file\n")
    assert _ffi.elf_soname(str(junk)) is None
    report = import_report({"AIOS_LIBRARY": str(junk)})
    assert report["class"] == "LibraryNotFoundError"
    assert "cannot load" in report["message"]


def test_aios_library_to_the_real_file_loads() -> None:
    # The versioned file itself (libaios.so.1.x.y) is fine: its SONAME is libaios.so.1.
    report = import_report({"AIOS_LIBRARY": str(real_library_file())})
    assert report["class"] is None
    assert Path(report["path"]).resolve() == real_library_file()


def test_library_too_old_for_the_binding() -> None:
    version_py = Path(aios.__file__).parent / "_version.py"
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("aios._version", {str(version_py)!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod.MIN_LIBRARY_VERSION = (99, 0, 0)
sys.modules["aios._version"] = mod
""" + REPORT_IMPORT_ERROR
    proc = run_python(code, env_update={"AIOS_LIBRARY": str(real_library_file())})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["class"] == "LibraryVersionError"
    assert "LibraryNotFoundError" in report["mro"] and "ImportError" in report["mro"]
    assert "needs 99.0.0 or newer" in report["message"]
    assert aios.version_string() in report["message"]


# ------------------------------------------------- aios_abi_version() check

FAKE_LIBAIOS_C = r"""
#include <stdint.h>
uint32_t aios_version_number(void) { return 0x000100u; }
#ifdef ABI
uint32_t aios_abi_version(void) { return ABI; }
#endif
"""


def build_fake_library(tmp_path: Path, abi: Optional[int]) -> Path:
    """A tiny ELF library with SONAME libaios.so.1 and the given aios_abi_version()."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to build a fake libaios")
    src = tmp_path / "fake.c"
    src.write_text(FAKE_LIBAIOS_C)
    out = tmp_path / "libaios.so.1"
    cmd = [cc, "-shared", "-fPIC", "-Wl,-soname,libaios.so.1", "-o", str(out), str(src)]
    if abi is not None:
        cmd.insert(1, f"-DABI={abi}u")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot build a fake libaios: {proc.stderr.strip()}")
    assert _ffi.elf_soname(str(out)) == "libaios.so.1"
    return out


def test_loaded_library_reports_abi_major_1() -> None:
    assert _ffi.library_abi_version == _ffi.ABI_MAJOR == aios.abi_version() == 1


def test_library_whose_abi_version_disagrees_is_refused(tmp_path: Path) -> None:
    # The SONAME says libaios.so.1 but aios_abi_version() says 2: refused,
    # and for the ABI, before it is found to lack the rest of the table.
    fake = build_fake_library(tmp_path, abi=2)
    report = import_report({"AIOS_LIBRARY": str(fake)})
    assert report["class"] == "LibraryNotFoundError", report
    assert "aios_abi_version() is 2, not 1" in report["message"]
    assert "lacks" not in report["message"]


def test_library_without_abi_version_is_too_old(tmp_path: Path) -> None:
    fake = build_fake_library(tmp_path, abi=None)
    report = import_report({"AIOS_LIBRARY": str(fake)})
    assert report["class"] == "LibraryVersionError", report
    assert "aios_abi_version" in report["message"] and "older than this binding" in report["message"]


def test_fake_library_with_abi_1_gets_past_the_abi_check(tmp_path: Path) -> None:
    # ABI 1 but none of the other functions: refused for what it lacks.
    fake = build_fake_library(tmp_path, abi=1)
    report = import_report({"AIOS_LIBRARY": str(fake)})
    assert report["class"] == "LibraryVersionError", report
    assert "aios_abi_version()" not in report["message"]
    assert "aios_buffer_max_len" in report["message"] and "aios_buffer_protection" in report["message"]


# ----------------------------------------------------------- search order


def test_search_plan_with_aios_library_is_exclusive() -> None:
    plan = _ffi.search_plan({"AIOS_LIBRARY": "/opt/x/libaios.so.1"})
    assert plan == [_ffi.Candidate("$AIOS_LIBRARY", "/opt/x/libaios.so.1")]
    # An empty value counts as unset.
    assert len(_ffi.search_plan({"AIOS_LIBRARY": ""})) > 1


def test_search_plan_order() -> None:
    plan = _ffi.search_plan({})
    wheres = [c.where for c in plan]
    targets = [c.target for c in plan]
    assert wheres[0].startswith("ctypes.util.find_library")
    multiarch = _ffi._multiarch()
    for directory in (
        os.path.join(sys.prefix, "lib"),
        "/usr/local/lib",
        os.path.join("/usr/lib", multiarch),
    ):
        assert os.path.join(os.path.normpath(directory), "libaios.so.1") in targets
    loader = targets.index("libaios.so.1")
    build = [i for i, w in enumerate(wheres) if "source checkout" in w]
    assert build and min(build) > loader > 0
    assert all(t is None or t.endswith("libaios.so.1") for t in targets[1:])


def test_source_root_walks_up() -> None:
    assert _ffi.source_root(str(Path(__file__).parent)) == str(repo_root())
    assert _ffi.source_root("/") is None


def _first_installed_library() -> Optional[str]:
    """What the install-prefix part of the search finds in a clean environment, if anything."""
    for directory in _ffi._prefix_dirs():
        path = os.path.join(directory, "libaios.so.1")
        if os.path.exists(path):
            return path
    probe = """
import ctypes, ctypes.util, json
hit = None
if ctypes.util.find_library("aios") == "libaios.so.1":
    hit = "find_library"
else:
    try:
        ctypes.CDLL("libaios.so.1")
        hit = "loader"
    except OSError:
        pass
print(json.dumps(hit))
"""
    proc = run_python(probe, env_update=CLEAN_ENV, pythonpath=[])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _copy_package(dest: Path) -> None:
    shutil.copytree(Path(aios.__file__).parent, dest / "aios", ignore=shutil.ignore_patterns("__pycache__"))


def test_finds_the_build_tree_of_a_source_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "lib").mkdir(parents=True)
    (checkout / "CMakeLists.txt").write_text("project(aios VERSION 0.0.0)\n")
    shutil.copy(repo_root() / "lib" / "libaios.map", checkout / "lib" / "libaios.map")
    (checkout / "build" / "lib").mkdir(parents=True)
    (checkout / "build" / "lib" / "libaios.so.1").symlink_to(real_library_file())
    _copy_package(checkout / "bindings" / "python")
    report = import_report(CLEAN_ENV, pythonpath=[str(checkout / "bindings" / "python")], cwd=str(tmp_path))
    assert report["class"] is None, report
    installed = _first_installed_library()
    if installed is None:
        assert report["path"] == str(checkout / "build" / "lib" / "libaios.so.1")
    else:  # an installed libaios comes first, as documented
        assert "checkout" not in report["path"]


def test_nothing_found_lists_every_place(tmp_path: Path) -> None:
    _copy_package(tmp_path / "site")
    report = import_report(CLEAN_ENV, pythonpath=[str(tmp_path / "site")], cwd=str(tmp_path))
    if _first_installed_library() is not None:
        assert report["class"] is None  # an installed libaios was found instead
        return
    assert report["class"] == "LibraryNotFoundError", report
    message = report["message"]
    for place in (
        "find_library",
        os.path.join(os.path.normpath(sys.prefix), "lib", "libaios.so.1"),
        "/usr/local/lib/libaios.so.1",
        os.path.join("/usr/lib", _ffi._multiarch(), "libaios.so.1"),
        "LD_LIBRARY_PATH",
        "source checkout",
        "set AIOS_LIBRARY",
    ):
        assert place in message, (place, message)
    assert len(report["tried"]) >= 8


def test_relative_aios_library_is_made_absolute(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libaios.so.1").symlink_to(real_library_file())
    report = import_report({"AIOS_LIBRARY": "lib/libaios.so.1"}, cwd=str(tmp_path))
    assert report["class"] is None, report
    assert report["path"] == str(tmp_path / "lib" / "libaios.so.1")
