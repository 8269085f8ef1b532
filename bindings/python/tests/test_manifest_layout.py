"""The ctypes Structures of manifest.h have the C compiler's layout, field
for field (the probe of tests/layout_probe.py, over manifest.h)."""

from __future__ import annotations

import ctypes
from pathlib import Path

from aios import _ffi

from layout_probe import assert_all_declared, assert_layout

STRUCTS = [
    _ffi.aios_manifest_hash_options,
    _ffi.aios_manifest_sign_options,
    _ffi.aios_manifest_verify_options,
    _ffi.aios_manifest_stream_options,
]


def test_structs_match_the_compiler(tmp_path: Path) -> None:
    assert_layout(tmp_path, "manifest.h", STRUCTS)


def test_every_header_struct_is_declared() -> None:
    assert_all_declared("manifest.h", STRUCTS)


def test_options_init_matches_the_macros() -> None:
    """What *_options_init writes: the version, then the documented defaults (all zero)."""
    for cls, fn in (
        (_ffi.aios_manifest_hash_options, _ffi.lib.aios_manifest_hash_options_init),
        (_ffi.aios_manifest_sign_options, _ffi.lib.aios_manifest_sign_options_init),
        (_ffi.aios_manifest_verify_options, _ffi.lib.aios_manifest_verify_options_init),
        (_ffi.aios_manifest_stream_options, _ffi.lib.aios_manifest_stream_options_init),
    ):
        opts = cls()
        ctypes.memset(ctypes.byref(opts), 0xA5, ctypes.sizeof(opts))
        fn(ctypes.byref(opts), 1)
        assert opts.version == 1
        raw = bytes(ctypes.string_at(ctypes.byref(opts), ctypes.sizeof(opts)))
        version_size = ctypes.sizeof(ctypes.c_uint)
        # every member after the version is zero (NULL, 0, the first enum member)
        for field, _ in cls._fields_[1:]:
            descr = getattr(cls, field)
            if field == "hash":  # the nested hash options: initialised too (version 1, zeros)
                assert opts.hash.version == 1 and opts.hash.threads == 0 and not opts.hash.progress
                continue
            assert raw[descr.offset:descr.offset + descr.size] == bytes(descr.size), f"{cls.__name__}.{field}"
        assert raw[:version_size] == (1).to_bytes(version_size, "little")
