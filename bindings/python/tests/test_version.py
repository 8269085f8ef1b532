"""Versions: the library against the C headers and CMake, the binding against both."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional

import aios
from aios import _ffi

from conftest import repo_root, run_python


def cmake_project_version() -> str:
    text = (repo_root() / "CMakeLists.txt").read_text()
    match = re.search(r"project\s*\(\s*aios\b[^)]*?\bVERSION\s+(\d+\.\d+\.\d+)", text, flags=re.S)
    assert match, "project(aios VERSION x.y.z) not found in CMakeLists.txt"
    return match.group(1)


def find_version_h() -> Optional[Path]:
    """include/aios/version.h next to the loaded library (build tree or prefix)."""
    lib_dir = Path(aios.library_path()).resolve().parent
    for base in (lib_dir.parent, lib_dir.parent.parent):
        candidate = base / "include" / "aios" / "version.h"
        if candidate.is_file():
            return candidate
    return None


def version_macros(path: Path) -> Dict[str, str]:
    text = path.read_text()
    return dict(re.findall(r"#define\s+(AIOS_(?:VERSION_(?:MAJOR|MINOR|PATCH|STRING)|ABI_VERSION))\s+\"?([^\"\s]+)\"?", text))


def test_library_matches_cmake_project_version() -> None:
    version = cmake_project_version()
    assert aios.version_string() == version
    assert aios.library_version() == version
    major, minor, patch = (int(x) for x in version.split("."))
    assert aios.version_number() == (major << 16) | (minor << 8) | patch
    assert aios.library_version_info() == (major, minor, patch)


def test_library_matches_generated_version_header() -> None:
    path = find_version_h()
    assert path is not None, f"no include/aios/version.h near {aios.library_path()}"
    macros = version_macros(path)
    major, minor, patch = (int(macros[f"AIOS_VERSION_{p}"]) for p in ("MAJOR", "MINOR", "PATCH"))
    assert aios.version_string() == macros["AIOS_VERSION_STRING"] == f"{major}.{minor}.{patch}"
    assert aios.version_number() == (major << 16) | (minor << 8) | patch
    assert int(macros["AIOS_ABI_VERSION"]) == _ffi.ABI_MAJOR == aios.abi_version() == 1


def test_build_info() -> None:
    info = aios.build_info()
    assert info["version"] == aios.version_string()
    assert info["abi"] == _ffi.ABI_MAJOR == aios.abi_version()
    assert set(info["dependencies"]) >= {"libsodium", "mbedtls", "protobuf-c"}
    for value in info["dependencies"].values():
        assert re.fullmatch(r"\d+\.\d+(\.\d+)*", value), value
    assert isinstance(info["cpu"], dict) and all(isinstance(v, bool) for v in info["cpu"].values())
    assert info["build"]["type"]


def test_binding_version_follows_the_project() -> None:
    assert aios.__version__ == cmake_project_version()
    assert aios.library_version_info() >= _ffi.MIN_LIBRARY_VERSION


def test_installed_metadata_matches() -> None:
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return
    try:
        dist = metadata.distribution("aios")
    except metadata.PackageNotFoundError:
        # Running from the source tree: the package is not installed.
        assert (Path(aios.__file__).parent.parent / "pyproject.toml").is_file()
        return
    assert dist.version == aios.__version__
    files = [str(f) for f in dist.files or []]
    assert any(f.endswith("aios/py.typed") for f in files)


def test_package_is_typed() -> None:
    assert (Path(aios.__file__).parent / "py.typed").is_file()


def test_loaded_library_is_abi_major_1() -> None:
    path = aios.library_path()
    assert Path(path).is_file()
    assert _ffi.elf_soname(path) == "libaios.so.1"


def test_abi_version() -> None:
    assert aios.abi_version() == 1
    assert isinstance(aios.abi_version(), int)
    assert _ffi.lib.aios_abi_version() == _ffi.library_abi_version == _ffi.ABI_MAJOR


def test_import_and_version_queries_do_not_initialise() -> None:
    # Importing aios (ABI check, buffer limits) and the version functions
    # leave libaios uninitialised: set_allocator() is still allowed after them.
    proc = run_python(
        """
import aios
aios.abi_version(); aios.version_number(); aios.version_string()
aios.Buffer.max_len(); aios.Buffer.max_len(secure=True)
aios.set_allocator(None)        # StateError once libaios has initialised
aios.init()
try:
    aios.set_allocator(None)
except aios.StateError:
    print("ok")
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
