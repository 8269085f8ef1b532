"""aios.Provider.callback: a key provider written in Python (a fake KMS).

libaios runs each host call on a worker thread of its own, with a timeout;
these tests check that results, errors and exceptions still reach the
right caller.
"""

from __future__ import annotations

import base64
import copy
import gc
import random
import threading
import time
import weakref
from typing import Any, Dict, List, Optional, Tuple

import pytest

import aios
from aios import Key, KeyInfo, KeyState, KeyType, KeyUse, Keyring, Provider, ProviderCaps, Status
from aios import key as aios_key


def pem_to_der(pem: str) -> bytes:
    return base64.b64decode("".join(line for line in pem.splitlines() if "-----" not in line))


class FakeKMS:
    """A KMS whose keys live in a local keyring; records every call."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.calls: List[Tuple[str, str, int, int, int]] = []
        self.unwrapped: List[bytearray] = []

    def _record(self, op: str, key_id: str, version: int, deadline_ms: int) -> None:
        self.calls.append((op, key_id, version, deadline_ms, threading.get_ident()))

    def describe(self, key_id: str, version: int, deadline_ms: int) -> Optional[KeyInfo]:
        self._record("describe", key_id, version, deadline_ms)
        if key_id == "unknown":
            return None
        k = self.keyring.get(key_id, version)  # KeyNotFoundError passes through as its status
        return KeyInfo(k.version, k.type, k.purposes, k.state, k.created_at)

    def wrap(self, key_id: str, version: int, data_key: bytes, ad: bytes, deadline_ms: int) -> bytes:
        self._record("wrap", key_id, version, deadline_ms)
        return self.keyring.get(key_id, version).wrap(data_key, ad)

    def unwrap(self, key_id: str, version: int, wrapped: bytes, ad: bytes, deadline_ms: int) -> bytearray:
        self._record("unwrap", key_id, version, deadline_ms)
        with self.keyring.get(key_id, version).unwrap(wrapped, ad) as dk:
            out = bytearray(bytes(dk))
        self.unwrapped.append(out)
        return out

    def sign(self, key_id: str, version: int, message: bytes, deadline_ms: int) -> bytes:
        self._record("sign", key_id, version, deadline_ms)
        return self.keyring.get(key_id, version).sign(message)

    def public_key(self, key_id: str, version: int, deadline_ms: int) -> bytes:
        self._record("public_key", key_id, version, deadline_ms)
        return pem_to_der(self.keyring.get(key_id, version).public_pem())


@pytest.fixture
def kms(keyring: Keyring) -> FakeKMS:
    keyring.add("kek", KeyType.AES256)
    keyring.add("signer", KeyType.ED25519)
    keyring.add("p384", KeyType.ECDSA_P384)
    keyring.add("p521", KeyType.ECDSA_P521)
    return FakeKMS(keyring)


@pytest.fixture
def provider(kms: FakeKMS):  # type: ignore[no-untyped-def]
    with Provider.callback("fake-kms", kms, timeout_ms=10000) as p:
        yield p


def live_hosts() -> int:
    gc.collect()  # keys of earlier tests may still hold their providers
    with aios_key._HOSTS_LOCK:
        return len(aios_key._HOSTS)


def is_live(state: Any) -> bool:
    with aios_key._HOSTS_LOCK:
        return any(s is state for s in aios_key._HOSTS.values())


# ------------------------------------------------------------ round trips


def test_manifest_signed_by_a_host_p521_key(provider: Provider, keyring: Keyring, tmp_path: Any) -> None:
    """A model signed with a P-521 key the host holds verifies with the
    key's public half, and fails once a file changes."""
    from aios import manifest as am

    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 300)
    (model / "sub" / "config.json").write_text('{"layers": 2}')
    key = provider.get_key("p521")
    assert key.type == KeyType.ECDSA_P521
    bundle, signed = am.sign(model, key)
    signed.close()
    pub = aios.Key.from_public_pem(keyring.get("p521").public_pem())
    with am.verify_key(bundle, pub) as m:
        assert not m.verify_dir(model)   # no difference
    (model / "sub" / "config.json").write_text('{"layers": 3}')
    with am.verify_key(bundle, pub) as m:
        with pytest.raises(aios.ManifestMismatchError) as info:
            m.verify_dir(model)
    assert "sub/config.json" in str(info.value)


def test_round_trip(provider: Provider, kms: FakeKMS, keyring: Keyring) -> None:
    assert provider.name == "callback:fake-kms"
    assert provider.capabilities == ProviderCaps.WRAP | ProviderCaps.UNWRAP | ProviderCaps.SIGN | ProviderCaps.PUBLIC_KEY
    assert provider.host is kms
    kek = provider.get_key("kek")
    assert (kek.id, kek.version, kek.type, kek.state) == ("kek", 1, KeyType.AES256, KeyState.ACTIVE)
    assert kek.provider_name == "callback:fake-kms" and kek.purposes == KeyUse.WRAP
    assert kek.created_at == keyring.get("kek").created_at
    assert kek.exportable is False
    wrapped = kek.wrap(b"d" * 32, b"ctx")
    # What the host produced is what the caller got: the local key opens it.
    assert bytes(keyring.get("kek").unwrap(wrapped, b"ctx")) == b"d" * 32
    with kek.unwrap(wrapped, b"ctx") as dk:
        assert dk.secure and bytes(dk) == b"d" * 32
    # The binding wiped the bytearray the host returned from unwrap.
    assert kms.unwrapped and all(b == bytearray(len(b)) for b in kms.unwrapped)
    with pytest.raises(aios.KeyNotExportableError):
        kek.export()
    ops = [c[0] for c in kms.calls]
    assert ops == ["describe", "wrap", "unwrap"]
    # Host calls run on libaios worker threads, not on the caller's.
    assert all(c[4] != threading.get_ident() for c in kms.calls)
    assert all(0 < c[3] <= 10000 for c in kms.calls)


@pytest.mark.parametrize("key_id", ["signer", "p384", "p521"])
def test_sign_with_public_key(provider: Provider, kms: FakeKMS, keyring: Keyring, key_id: str) -> None:
    key = provider.get_key(key_id)
    assert [c[0] for c in kms.calls] == ["describe", "public_key"]
    local = keyring.get(key_id)
    assert key.public_raw() == local.public_raw()
    assert key.public_pem() == local.public_pem()
    sig = key.sign(b"manifest")
    assert local.verify(sig, b"manifest") and key.verify(sig, b"manifest")
    assert not key.verify(sig, b"other")
    with pytest.raises(aios.InvalidInputError) as info:
        key.wrap(b"k" * 32)
    assert info.value.status == Status.E_KEY_USAGE


def test_versions_and_states_come_from_describe(provider: Provider, kms: FakeKMS, keyring: Keyring) -> None:
    wrapped_v1 = provider.get_key("kek").wrap(b"1" * 32)
    keyring.rotate("kek")
    current = provider.get_key("kek")
    assert current.version == 2
    old = provider.get_key("kek", 1)
    assert old.version == 1 and old.state is KeyState.DECRYPT_ONLY
    with pytest.raises(aios.KeyDecryptOnlyError):
        old.wrap(b"x" * 32)  # refused before the host is asked
    assert bytes(old.unwrap(wrapped_v1)) == b"1" * 32
    describes = [c for c in kms.calls if c[0] == "describe"]
    assert [c[2] for c in describes] == [0, 0, 1]
    # An error status raised by the host passes through (KeyNotFoundError
    # from the local keyring: no such version).
    with pytest.raises(aios.KeyNotFoundError) as info:
        provider.get_key("kek", 9)
    assert info.value.status == Status.E_KEY_VERSION_NOT_FOUND
    assert isinstance(info.value.host_exception, aios.KeyNotFoundError)
    assert "callback:fake-kms" in info.value.message
    # describe() returning None: no such key.
    with pytest.raises(aios.KeyNotFoundError) as info:
        provider.get_key("unknown")
    assert info.value.status == Status.E_KEY_NOT_FOUND and info.value.host_exception is None


def test_describe_may_return_tuple_or_dict(keyring: Keyring) -> None:
    class Host:
        def __init__(self, answer: Any) -> None:
            self.answer = answer

        def describe(self, key_id: str, version: int, deadline_ms: int) -> Any:
            return self.answer

    for answer in (
        (3, "hmac-sha256"),
        (3, KeyType.HMAC_SHA256, 0, "decrypt-only", 1700000000),
        {"version": 3, "type": "hmac-sha256", "state": KeyState.DECRYPT_ONLY, "created_at": 1700000000},
        KeyInfo(version=3, type=2, purposes=KeyUse.MAC),
    ):
        with Provider.callback("tuple", Host(answer)) as p:
            k = p.get_key("mac")
            assert (k.version, k.type, k.purposes) == (3, KeyType.HMAC_SHA256, KeyUse.MAC)
            assert k.created_at in (0, 1700000000)
            # MAC is not something a callback provider can do: no secret here.
            with pytest.raises(aios.InvalidInputError) as info:
                k.mac(b"x")
            assert info.value.status == Status.E_KEY_USAGE and "holds no secret" in info.value.message


@pytest.mark.parametrize(
    "answer, fragment",
    [
        ("not a tuple", "describe must return"),
        ((1, "rsa-pss"), "unknown key type"),
        ((1, KeyType.AES256, 0, "bogus"), "unknown key state"),
        ({"version": 1}, "type"),
        ((0, KeyType.AES256), "version 0"),
        ((1, KeyType.AES256, KeyUse.SIGN), "purposes"),
    ],
)
def test_bad_describe_answers(answer: Any, fragment: str) -> None:
    class Host:
        def describe(self, key_id: str, version: int, deadline_ms: int) -> Any:
            return answer

    with Provider.callback("bad", Host()) as p:
        with pytest.raises(aios.CallbackError) as info:
            p.get_key("k")
    exc = info.value
    assert exc.status == Status.E_CALLBACK
    assert fragment in exc.message or fragment in str(exc.host_exception)


# ------------------------------------------------------------- exceptions


def test_host_exception_is_chained(provider: Provider, kms: FakeKMS, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = provider.get_key("kek")
    parked_before = aios._ffi.parked_worker_exceptions()

    class KMSDown(Exception):
        pass

    def wrap(*args: Any) -> bytes:
        raise KMSDown("kms unreachable: 503")

    monkeypatch.setattr(kms, "wrap", wrap)
    with pytest.raises(aios.CallbackError) as info:
        kek.wrap(b"k" * 32, b"ctx")
    exc = info.value
    assert type(exc) is aios.CallbackError and exc.status == Status.E_CALLBACK
    assert isinstance(exc.__cause__, KMSDown) and exc.host_exception is exc.__cause__
    assert "kms unreachable: 503" in exc.message and "KMSDown" in exc.message
    assert "callback:fake-kms" in exc.message and "wrap" in exc.message
    assert exc.__cause__.__traceback__ is not None
    # What libaios recorded names the exception's type, never its text.
    recorded = aios.last_error_message()
    assert "KMSDown" in recorded and "503" not in recorded
    # Nothing is left over for the next call.
    assert aios._ffi.parked_worker_exceptions() == parked_before
    monkeypatch.undo()
    assert len(kek.wrap(b"k" * 32)) > 32


def test_host_auth_failure_passes_through(provider: Provider) -> None:
    kek = provider.get_key("kek")
    wrapped = kek.wrap(b"k" * 32, b"right")
    with pytest.raises(aios.AuthenticationError) as info:
        kek.unwrap(wrapped, b"wrong")
    exc = info.value
    assert exc.status == Status.E_AUTH
    assert isinstance(exc.host_exception, aios.AuthenticationError)
    assert "callback:fake-kms" in exc.message


def test_host_cancels(provider: Provider, kms: FakeKMS, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = provider.get_key("kek")

    def wrap(*args: Any) -> bytes:
        raise aios.CancelledError("operator said no")

    monkeypatch.setattr(kms, "wrap", wrap)
    with pytest.raises(aios.CancelledError) as info:
        kek.wrap(b"k" * 32)
    assert info.value.status == Status.E_CANCELLED
    assert str(info.value.host_exception) .startswith("operator said no")


def test_bad_output_type_is_a_callback_error(provider: Provider, kms: FakeKMS, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = provider.get_key("kek")
    monkeypatch.setattr(kms, "wrap", lambda *a: "a str, not bytes")
    with pytest.raises(aios.CallbackError) as info:
        kek.wrap(b"k" * 32)
    assert isinstance(info.value.host_exception, TypeError)
    monkeypatch.setattr(kms, "wrap", lambda *a: b"")
    with pytest.raises(aios.CallbackError) as info:
        kek.wrap(b"k" * 32)
    assert "empty" in info.value.message and info.value.host_exception is None


def test_signature_that_does_not_verify_is_refused(provider: Provider, kms: FakeKMS, keyring: Keyring,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    key = provider.get_key("signer")
    impostor = keyring.add("impostor", KeyType.ED25519)
    monkeypatch.setattr(kms, "sign", lambda key_id, version, msg, deadline: impostor.sign(msg))
    with pytest.raises(aios.CallbackError) as info:
        key.sign(b"m")
    assert "does not verify" in info.value.message


def test_each_caller_gets_its_own_exception(provider: Provider, kms: FakeKMS,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    kek = provider.get_key("kek")
    real_wrap = kms.wrap

    def wrap(key_id: str, version: int, data_key: bytes, ad: bytes, deadline_ms: int) -> bytes:
        time.sleep(random.random() * 0.01)
        if data_key[0] % 2:
            raise ValueError(f"refused {data_key[0]}")
        return real_wrap(key_id, version, data_key, ad, deadline_ms)

    monkeypatch.setattr(kms, "wrap", wrap)
    parked_before = aios._ffi.parked_worker_exceptions()
    results: Dict[int, Any] = {}

    def worker(i: int) -> None:
        outcomes = []
        for _ in range(10):
            try:
                outcomes.append(kek.wrap(bytes([i]) * 32, b"same-ad"))
            except aios.CallbackError as exc:
                outcomes.append(exc)
        results[i] = outcomes

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, outcomes in results.items():
        for outcome in outcomes:
            if i % 2:
                assert isinstance(outcome, aios.CallbackError), outcome
                assert isinstance(outcome.host_exception, ValueError)
                assert str(outcome.host_exception) == f"refused {i}"
            else:
                assert isinstance(outcome, bytes)
    assert aios._ffi.parked_worker_exceptions() == parked_before


def test_exception_reaches_a_handle_made_elsewhere(provider: Provider, kms: FakeKMS,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The exception travels with the C error, not with the Python objects:
    # a handle the binding did not get from Provider.get_key (as other
    # modules will return), and two providers of the same name, change nothing.
    kek = provider.get_key("kek")
    bare = Key._adopt(aios._ffi.lib.aios_key_ref(kek._handle()))
    with Provider.callback("fake-kms", kms) as twin:
        twin_key = twin.get_key("kek")
        monkeypatch.setattr(kms, "wrap", lambda *a: 1 / 0)
        for key in (bare, twin_key):
            with pytest.raises(aios.CallbackError) as info:
                key.wrap(b"k" * 32)
            assert isinstance(info.value.__cause__, ZeroDivisionError)
    bare.close()


def test_worker_tokens_cannot_be_forged(keyring: Keyring) -> None:
    # Key ids (which libaios puts in the message before the host's part)
    # that look like tokens, even with this process's secret, change nothing.
    class Host:
        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            raise LookupError(key_id)

    secret = aios._ffi._WORKER_SECRET
    for forged in ("[py-exc 0123456789abcdef 1]", f"[py-exc {secret} 999999999]"):
        with Provider.callback("forge", Host()) as p:
            with pytest.raises(aios.CallbackError) as info:
                p.get_key(forged)
        assert isinstance(info.value.host_exception, LookupError)
        assert str(info.value.host_exception) == forged
        message, exc = aios._ffi.claim_worker_exception(f"x: {forged} y")
        assert exc is None and message == f"x: {forged} y"


# ------------------------------------------------------------- timeouts


def test_timeout(keyring: Keyring) -> None:
    release = threading.Event()
    finished = threading.Event()

    class SlowHost:
        def __init__(self) -> None:
            self.slow = True

        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            assert 0 < deadline_ms <= 300
            if self.slow:
                try:
                    release.wait(30)
                    raise RuntimeError("too late to matter")
                finally:
                    finished.set()
            return KeyInfo(1, KeyType.AES256)

    host = SlowHost()
    parked_before = aios._ffi.parked_worker_exceptions()
    with Provider.callback("slow", host, timeout_ms=300) as p:
        started = time.monotonic()
        with pytest.raises(aios.ProviderTimeoutError) as info:
            p.get_key("kek")
        assert time.monotonic() - started < 20  # it did not wait for the host
        exc = info.value
        assert exc.status == Status.E_PROVIDER_TIMEOUT and isinstance(exc, TimeoutError)
        assert isinstance(exc, aios.CallbackError)
        assert "300 ms" in exc.message and "callback:slow" in exc.message
        assert not finished.is_set()  # the host call is still running
        release.set()
        assert finished.wait(30)
        # Its late exception found no caller: it waits, never raised
        # anywhere, until its deadline and grace period are over.
        deadline = time.monotonic() + 10
        while aios._ffi.parked_worker_exceptions() == parked_before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert aios._ffi.parked_worker_exceptions() == parked_before + 1
        late = [v[1] for v in aios._ffi._worker_parked.values()]
        assert any(isinstance(e, RuntimeError) and str(e) == "too late to matter" for e in late)
        assert aios._ffi.drop_expired_worker_exceptions(time.monotonic() + aios._ffi.WORKER_GRACE_S + 1) >= 1
        assert aios._ffi.parked_worker_exceptions() == 0
        host.slow = False
        assert p.get_key("kek").type is KeyType.AES256


# ----------------------------------------------------- capabilities, sizes


def test_capabilities_follow_the_host_methods(keyring: Keyring) -> None:
    class WrapOnly:
        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            return KeyInfo(1, KeyType.AES256)

        def wrap(self, key_id: str, version: int, data_key: bytes, ad: bytes, deadline_ms: int) -> bytes:
            return b"W" + data_key[::-1]

    with Provider.callback("wrap-only", WrapOnly()) as p:
        assert p.capabilities == ProviderCaps.WRAP
        k = p.get_key("kek")
        assert k.wrap(b"abc") == b"Wcba"
        with pytest.raises(aios.InvalidInputError) as info:
            k.unwrap(b"Wcba")
        assert info.value.status == Status.E_UNSUPPORTED and "CAN_UNWRAP" in info.value.message

    class DescribeOnly:
        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            return KeyInfo(1, KeyType.ED25519)

    with Provider.callback("describe-only", DescribeOnly()) as p:
        assert p.capabilities == ProviderCaps.NONE
        with pytest.raises(aios.InvalidInputError):
            p.get_key("k").sign(b"m")

    with pytest.raises(TypeError, match="describe"):
        Provider.callback("nothing", object())


def test_large_output_is_not_asked_twice(keyring: Keyring) -> None:
    class BigWrap:
        def __init__(self, size: int) -> None:
            self.size = size
            self.wraps = 0

        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            return KeyInfo(1, KeyType.AES256)

        def wrap(self, key_id: str, version: int, data_key: bytes, ad: bytes, deadline_ms: int) -> bytes:
            self.wraps += 1
            return bytes([self.wraps]) * self.size  # differs on every call, as a real KMS's does

    host = BigWrap(700)  # over libaios' first 512-byte buffer, under the 1024 maximum
    with Provider.callback("big", host) as p:
        assert p.get_key("kek").wrap(b"k" * 32) == b"\x01" * 700
        assert host.wraps == 1
    host = BigWrap(aios.KEY_WRAPPED_MAX + 1)
    with Provider.callback("too-big", host) as p:
        with pytest.raises(aios.CallbackError) as info:
            p.get_key("kek").wrap(b"k" * 32)
        assert "1025" in info.value.message


# ------------------------------------------------------------- lifetime


def test_host_is_released(keyring: Keyring, kms: FakeKMS) -> None:
    kms = FakeKMS(keyring)  # not the fixture's: pytest holds that one
    ref = weakref.ref(kms)
    p = Provider.callback("released", kms)
    del kms
    state = p._host
    assert state is not None and is_live(state) and not state.released
    key = p.get_key("kek")
    twin = copy.copy(p)
    p.close()
    assert p.closed and not twin.closed
    with pytest.raises(aios.StateError):
        p.get_key("kek")
    assert twin.get_key("kek").version == 1
    twin.close()
    # The key still holds the C provider: the host is alive and usable.
    assert is_live(state) and ref() is not None
    assert len(key.wrap(b"k" * 32)) > 32
    # The last key closes: libaios calls release, which drops the host.
    key.close()
    gc.collect()
    assert state.released and not is_live(state) and state.host is None
    assert ref() is None


def test_failed_creation_keeps_nothing() -> None:
    class Host:
        def describe(self, key_id: str, version: int, deadline_ms: int) -> KeyInfo:
            return KeyInfo(1, KeyType.AES256)

    before = live_hosts()
    for name in ("Upper", "", "x" * 49, "sp ace"):
        with pytest.raises(aios.InvalidInputError):
            Provider.callback(name, Host())
    assert live_hosts() == before
    with pytest.raises(TypeError):
        Provider()  # type: ignore[call-arg]
