"""init(), selftest() and the callback-exception mechanism it exercises."""

from __future__ import annotations

from typing import List

import pytest

import aios
from aios import SelftestResult, Status, _ffi


def test_init_is_idempotent() -> None:
    assert aios.init() is None
    assert aios.init() is None


def test_selftest_passes_and_lists_names() -> None:
    results = aios.selftest()
    assert len(results) >= 5
    names = [r.name for r in results]
    assert len(set(names)) == len(names), "each known-answer test is reported once"
    for r in results:
        assert isinstance(r, SelftestResult)
        assert r.name and r.name.isprintable()
        assert r.ok is True
        assert r.status_name == "AIOS_OK"
    # Stable across runs.
    assert [r.name for r in aios.selftest()] == names


def test_selftest_progress_sees_every_result() -> None:
    seen: List[SelftestResult] = []
    results = aios.selftest(progress=seen.append)
    assert seen == results


def test_exception_in_callback_becomes_callback_error() -> None:
    calls = []

    def progress(result: SelftestResult) -> None:
        calls.append(result)
        if len(calls) == 2:
            raise ValueError("host stopped at the second test")

    with pytest.raises(aios.CallbackError) as info:
        aios.selftest(progress)
    exc = info.value
    assert isinstance(exc.__cause__, ValueError)
    assert exc.host_exception is exc.__cause__
    assert "host stopped" in str(exc.__cause__)
    assert exc.status == Status.E_CALLBACK and exc.kind == "callback"
    assert type(exc) is aios.CallbackError
    assert "ValueError" in exc.message and "aios_selftest" in exc.message
    assert "the callback failed" in exc.message  # what C recorded
    # The callback returned AIOS_E_CALLBACK: C stopped the run right there.
    assert exc.results == calls  # type: ignore[attr-defined]
    assert len(calls) == 2 < len(aios.selftest())
    # The slot was consumed: the next call on this thread is clean.
    assert _ffi.take_callback_exception() is None
    assert aios.selftest()


def test_keyboard_interrupt_in_callback_propagates_unchanged() -> None:
    calls = []

    def progress(result: SelftestResult) -> None:
        calls.append(result)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        aios.selftest(progress)
    assert len(calls) == 1  # and it stopped the run at once
    assert _ffi.take_callback_exception() is None


@pytest.mark.parametrize("stop_at", [1, 3, "last"])
def test_progress_returning_false_cancels(stop_at: object) -> None:
    total = len(aios.selftest())
    stop = total if stop_at == "last" else stop_at
    calls: List[SelftestResult] = []

    def progress(result: SelftestResult) -> bool:
        calls.append(result)
        return len(calls) != stop

    with pytest.raises(aios.CancelledError) as info:
        aios.selftest(progress)
    exc = info.value
    assert isinstance(exc, aios.CallbackError)  # the kind: callback
    assert exc.status == Status.E_CANCELLED and exc.name == "AIOS_E_CANCELLED" and exc.kind == "callback"
    assert "stopped by the callback" in exc.message
    assert exc.host_exception is None and exc.__cause__ is None  # a clean stop
    assert len(calls) == stop
    assert exc.results == calls  # type: ignore[attr-defined]
    assert _ffi.take_callback_exception() is None
    assert aios.selftest()


def test_progress_returning_other_values_goes_on() -> None:
    values: List[object] = [None, True, 0, "", []]
    for value in values:
        seen: List[SelftestResult] = []

        def progress(result: SelftestResult, value: object = value) -> object:
            seen.append(result)
            return value

        assert aios.selftest(progress) == seen  # type: ignore[arg-type]


def test_progress_raising_cancelled_error_cancels() -> None:
    calls: List[SelftestResult] = []

    def progress(result: SelftestResult) -> None:
        calls.append(result)
        if len(calls) == 2:
            raise aios.CancelledError("the user pressed stop")

    with pytest.raises(aios.CancelledError) as info:
        aios.selftest(progress)
    exc = info.value
    assert exc.status == Status.E_CANCELLED and exc.kind == "callback"
    assert "stopped by the callback" in exc.message and "the user pressed stop" in exc.message
    # The signal is kept, as for any exception a callback raised.
    assert isinstance(exc.__cause__, aios.CancelledError)
    assert exc.host_exception is exc.__cause__ and exc.__cause__ is not exc
    assert len(calls) == 2 and exc.results == calls  # type: ignore[attr-defined]
    assert _ffi.take_callback_exception() is None


def test_cancelled_is_the_callback_kind() -> None:
    exc = aios.error_for_status(Status.E_CANCELLED)
    assert type(exc) is aios.CancelledError
    assert isinstance(exc, aios.CallbackError) and isinstance(exc, aios.AiosError)
    assert aios.CancelledError().status == Status.E_CANCELLED
    assert aios.CancelledError().name == "AIOS_E_CANCELLED"
    assert type(aios.error_for_status(Status.E_CALLBACK)) is aios.CallbackError


def test_callback_error_from_c_without_python_exception() -> None:
    # A raw callback returning AIOS_E_CALLBACK itself (no Python exception).
    callback = _ffi.aios_selftest_cb(lambda name, status, payload: int(Status.E_CALLBACK))
    with pytest.raises(aios.CallbackError) as info:
        _ffi.lib.aios_selftest(callback, None)
    assert type(info.value) is aios.CallbackError
    assert info.value.status == Status.E_CALLBACK and info.value.__cause__ is None
    assert info.value.message == "aios_selftest: the callback failed"


def test_positive_callback_result_counts_as_cancelled() -> None:
    callback = _ffi.aios_selftest_cb(lambda name, status, payload: 7)
    with pytest.raises(aios.CancelledError) as info:
        _ffi.lib.aios_selftest(callback, None)
    assert info.value.status == Status.E_CANCELLED


def test_progress_is_not_called_again_after_it_raised() -> None:
    count = [0]

    def progress(result: SelftestResult) -> None:
        count[0] += 1
        raise RuntimeError(f"failure {count[0]}")

    with pytest.raises(aios.CallbackError) as info:
        aios.selftest(progress)
    assert str(info.value.__cause__) == "failure 1"
    assert count[0] == 1


def test_only_the_first_callback_exception_is_kept() -> None:
    count = [0]

    def record(name: bytes, status: int, payload: object) -> None:
        count[0] += 1
        raise RuntimeError(f"failure {count[0]}")

    # default=AIOS_OK: C is told to go on, so the callback raises again.
    callback = _ffi.aios_selftest_cb(_ffi.guard_callback(record, Status.OK))
    with pytest.raises(aios.CallbackError) as info:
        _ffi.lib.aios_selftest(callback, None)
    assert str(info.value.__cause__) == "failure 1"
    assert count[0] == len(aios.selftest()) > 1


def test_libaios_calls_inside_a_callback_do_not_consume_its_exception() -> None:
    seen = []

    def record(name: bytes, status: int, payload: object) -> int:
        # A nested libaios call with its own errcheck, after an earlier
        # callback of the same C call raised.
        seen.append(aios.status_name(status))
        with pytest.raises(aios.LimitExceededError):
            aios.Buffer.new(aios.BUFFER_MAX_LEN + 1)
        if len(seen) == 1:
            raise ArithmeticError("first")
        return 0

    # default=AIOS_OK keeps the run going after the exception.
    callback = _ffi.aios_selftest_cb(_ffi.guard_callback(record, Status.OK))
    with pytest.raises(aios.CallbackError) as info:
        _ffi.lib.aios_selftest(callback, None)
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert seen == ["AIOS_OK"] * len(seen) and len(seen) > 1


def test_guard_callback_returns_default_and_parks_the_exception() -> None:
    def boom(x: int) -> int:
        raise LookupError(x)

    guarded = _ffi.guard_callback(boom, default=Status.E_CALLBACK)
    assert guarded(3) == Status.E_CALLBACK
    parked = _ffi.take_callback_exception()
    assert isinstance(parked, LookupError) and parked.args == (3,)
    assert _ffi.take_callback_exception() is None
    assert guarded.__name__ == "boom"


def test_status_callback_maps_results_to_statuses() -> None:
    def returning(value: object) -> object:
        return value

    wrapped = _ffi.status_callback(returning)
    assert wrapped.__name__ == "returning"
    assert wrapped(None) == Status.OK and wrapped(True) == Status.OK and wrapped(0) == Status.OK
    assert wrapped(False) == Status.E_CANCELLED
    assert _ffi.take_callback_exception() is None

    def raising(exc: BaseException) -> None:
        raise exc

    wrapped = _ffi.status_callback(raising)
    signal = aios.CancelledError("stop")
    assert wrapped(signal) == Status.E_CANCELLED
    assert _ffi.take_callback_exception() is signal
    boom = OSError("boom")
    assert wrapped(boom) == Status.E_CALLBACK
    assert _ffi.take_callback_exception() is boom
    assert _ffi.take_callback_exception() is None
