"""Every exported C symbol is declared once in the binding, and correctly.

A new function in lib/libaios.map without a row in aios._ffi.FUNCTIONS
fails here, and so does a row whose result or argument types disagree with
the AIOS_API declaration in include/aios/*.h.
"""

from __future__ import annotations

import ctypes
import re
from typing import Dict, List, Set, Tuple

import pytest

import aios
from aios import _ffi

from conftest import repo_root, strip_c_comments


def map_symbols() -> Set[str]:
    text = strip_c_comments((repo_root() / "lib" / "libaios.map").read_text())
    names: Set[str] = set()
    for section in re.findall(r"global\s*:(.*?)(?:local\s*:|\})", text, flags=re.S):
        names.update(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*;", section))
    return names


def header_declarations() -> Dict[str, Tuple[str, List[str]]]:
    """name -> (return type, [argument declarations]) for every AIOS_API function."""
    decls: Dict[str, Tuple[str, List[str]]] = {}
    for header in sorted((repo_root() / "include" / "aios").rglob("*.h")):
        text = strip_c_comments(header.read_text())
        for ret, name, args in re.findall(
            r"AIOS_API\s+([^;(){}]*?)\s*\b(aios_\w+)\s*\(([^)]*)\)\s*;", text
        ):
            ret = re.sub(r"\s+", " ", ret.replace("AIOS_NODISCARD", "")).strip()
            arglist = [a.strip() for a in args.split(",")]
            if arglist == ["void"]:
                arglist = []
            decls[name] = (ret, arglist)
    return decls


SYMBOLS = sorted(map_symbols())


def test_map_parses_and_is_not_empty() -> None:
    assert len(SYMBOLS) >= 20
    assert "aios_init" in SYMBOLS and "aios_buffer_new" in SYMBOLS


@pytest.mark.parametrize("name", SYMBOLS)
def test_symbol_resolves_and_is_declared(name: str) -> None:
    # The loaded shared library exports it ...
    assert _ffi._has_symbol(_ffi.cdll, name), f"{name} is in libaios.map but not exported"
    # ... and the binding declares it, with an errcheck, exactly once.
    rows = [fn for fn in _ffi.FUNCTIONS if fn.name == name]
    assert len(rows) == 1, f"{name} must be declared exactly once in aios._ffi.FUNCTIONS"
    bound = getattr(_ffi.lib, name)
    assert bound.errcheck is rows[0].errcheck
    assert bound.argtypes == tuple(rows[0].argtypes)
    assert bound.restype is rows[0].restype


def test_binding_declares_only_exported_symbols() -> None:
    assert _ffi.DECLARED <= set(SYMBOLS), _ffi.DECLARED - set(SYMBOLS)
    assert len(_ffi.DECLARED) == len(_ffi.FUNCTIONS)


def test_every_map_symbol_has_a_header_declaration() -> None:
    assert set(header_declarations()) == set(SYMBOLS)


_SCALARS = {
    "int": ctypes.c_int,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "size_t": ctypes.c_size_t,
    "unsigned int": ctypes.c_uint,
}


def _is_pointer_type(t: object) -> bool:
    if t in (ctypes.c_void_p, ctypes.c_char_p, _ffi.ConstBytes, _ffi.MutBytes):
        return True
    return isinstance(t, type) and issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr))  # type: ignore[attr-defined]


def _expected_scalar(ctype: str) -> object:
    ctype = ctype.replace("const ", "").strip()
    if ctype in _SCALARS:
        return _SCALARS[ctype]
    if re.fullmatch(r"aios_\w+", ctype) and not ctype.endswith("_cb"):
        return ctypes.c_int  # a C enum
    raise AssertionError(f"no ctypes mapping known for {ctype!r}")


@pytest.mark.parametrize("name", SYMBOLS)
def test_declaration_matches_header(name: str) -> None:
    ret, args = header_declarations()[name]
    row = next(fn for fn in _ffi.FUNCTIONS if fn.name == name)
    # Result: never ctypes' default int for a pointer or void.
    if "*" in ret:
        assert _is_pointer_type(row.restype), f"{name} returns {ret} but restype is {row.restype}"
    elif ret == "void":
        assert row.restype is None, f"{name} returns void"
    else:
        assert row.restype is _expected_scalar(ret), f"{name} returns {ret}, restype {row.restype}"
    # Arguments: same count; pointers where C has pointers, exact scalars elsewhere.
    assert len(row.argtypes) == len(args), f"{name}: {args} vs {row.argtypes}"
    for decl, argtype in zip(args, row.argtypes):
        ctype = re.sub(r"\s*\b\w+$", "", decl)  # drop the parameter name
        if "*" in decl or decl.endswith("]"):  # an array parameter is a pointer
            assert _is_pointer_type(argtype), f"{name}: {decl!r} declared as {argtype}"
        elif re.search(r"aios_\w+_cb\b", decl):
            assert issubclass(argtype, ctypes._CFuncPtr), f"{name}: {decl!r} needs a CFUNCTYPE"  # type: ignore[attr-defined]
        else:
            assert argtype is _expected_scalar(ctype), f"{name}: {decl!r} declared as {argtype}"


def test_public_api_names_exist() -> None:
    for name in aios.__all__:
        assert hasattr(aios, name), name
