"""The ctypes Structures of key.h have the C compiler's layout, field for field.

A small C program, compiled against include/aios/key.h, prints sizeof and
offsetof of every struct and member the binding declares; the binding's
ctypes classes must agree.
"""

from __future__ import annotations

from pathlib import Path

from aios import _ffi

from layout_probe import assert_all_declared, assert_layout

STRUCTS = [
    _ffi.aios_keyring_options,
    _ffi.aios_key_attribute_pair,
    _ffi.aios_key_spec,
    _ffi.aios_pkcs11_options,
    _ffi.aios_provider_key_info,
    _ffi.aios_provider_ops,
    _ffi.aios_provider_options,
    _ffi.aios_dkcache_options,
    _ffi.aios_dkcache_stats,
]


def test_structs_match_the_compiler(tmp_path: Path) -> None:
    assert_layout(tmp_path, "key.h", STRUCTS)


def test_every_header_struct_is_declared() -> None:
    assert_all_declared("key.h", STRUCTS)
