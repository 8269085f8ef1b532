"""The ctypes Structures of envelope.h have the C compiler's layout, field
for field (the probe of tests/layout_probe.py, over envelope.h)."""

from __future__ import annotations

from pathlib import Path

from aios import _ffi

from layout_probe import assert_all_declared, assert_layout

STRUCTS = [
    _ffi.aios_envelope_context_entry,
    _ffi.aios_envelope_seal_options,
    _ffi.aios_envelope_open_options,
    _ffi.aios_envelope_rewrap_options,
    _ffi.aios_envelope_session_options,
    _ffi.aios_envelope_fields_options,
]


def test_structs_match_the_compiler(tmp_path: Path) -> None:
    assert_layout(tmp_path, "envelope.h", STRUCTS)


def test_every_header_struct_is_declared() -> None:
    assert_all_declared("envelope.h", STRUCTS)
