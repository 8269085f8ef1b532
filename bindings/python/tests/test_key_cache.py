"""aios.DataKeyCache: hits, misses, limits, eviction, entry lifetime."""

from __future__ import annotations

import gc
import os
import pickle
import threading
import time
from typing import List

import pytest

import aios
from aios import DataKeyCache, Key, KeyType, Keyring

SUITE = 1


@pytest.fixture
def kek(keyring: Keyring) -> Key:
    return keyring.add("kek", KeyType.AES256)


def test_put_get_hit_and_miss(keyring: Keyring, kek: Key) -> None:
    dk = os.urandom(32)
    wrapped = kek.wrap(dk, b"tenant=acme")
    with DataKeyCache() as cache:
        assert cache.get(kek, b"tenant=acme", SUITE) is None
        cache.put(kek, b"tenant=acme", SUITE, dk, wrapped)
        with cache.get(kek, b"tenant=acme", SUITE, nbytes=100) as entry:
            assert isinstance(entry, aios.CacheEntry)
            with entry.data_key as view:
                assert view.readonly and bytes(view) == dk
            assert entry.wrapped == wrapped
        assert entry.released
        with pytest.raises(aios.StateError):
            _ = entry.data_key
        # Another context, suite or key version misses.
        assert cache.get(kek, b"tenant=evil", SUITE) is None
        assert cache.get(kek, b"tenant=acme", SUITE + 1) is None
        v2 = keyring.rotate("kek")
        assert cache.get(v2, b"tenant=acme", SUITE) is None
        # The same key version through another handle hits.
        again = keyring.get("kek", 1)
        entry = cache.get(again, b"tenant=acme", SUITE)
        assert entry is not None and entry.wrapped == wrapped
        entry.release()
        entry.release()  # idempotent
        assert cache.stats() == {"hits": 2, "misses": 4, "evictions": 0, "expirations": 0, "entries": 1}


def test_put_without_wrapped_and_replacement(kek: Key) -> None:
    with DataKeyCache() as cache:
        cache.put(kek, b"", SUITE, aios.Buffer.from_bytes(b"1" * 32, secure=True))
        with cache.get(kek, b"", SUITE) as entry:
            assert entry.wrapped == b"" and bytes(entry.data_key) == b"1" * 32
        cache.put(kek, b"", SUITE, bytearray(b"2" * 16), b"w")
        with cache.get(kek, b"", SUITE) as entry:
            assert bytes(entry.data_key) == b"2" * 16 and entry.wrapped == b"w"
        assert cache.stats()["entries"] == 1
        with pytest.raises(aios.InvalidInputError):
            cache.put(kek, b"", SUITE, b"")
        with pytest.raises(aios.InvalidInputError):
            cache.put(kek, b"", SUITE, b"x" * (aios.KEY_DATA_KEY_MAX + 1))
        with pytest.raises(aios.InvalidInputError):
            cache.put(kek, b"", SUITE, b"x", b"w" * (aios.KEY_WRAPPED_MAX + 1))


def test_max_messages(kek: Key) -> None:
    with DataKeyCache(max_messages=2) as cache:
        cache.put(kek, b"c", SUITE, b"k" * 32)
        for _ in range(2):
            entry = cache.get(kek, b"c", SUITE)
            assert entry is not None
            entry.release()
        assert cache.get(kek, b"c", SUITE) is None
        stats = cache.stats()
        assert stats["expirations"] == 1 and stats["entries"] == 0 and stats["hits"] == 2


def test_max_bytes(kek: Key) -> None:
    with DataKeyCache(max_bytes=1000) as cache:
        cache.put(kek, b"c", SUITE, b"k" * 32)
        cache.get(kek, b"c", SUITE, nbytes=600).release()  # type: ignore[union-attr]
        cache.get(kek, b"c", SUITE, nbytes=400).release()  # type: ignore[union-attr]
        assert cache.get(kek, b"c", SUITE, nbytes=1) is None
        assert cache.stats()["expirations"] == 1


def test_max_age(kek: Key) -> None:
    with DataKeyCache(max_age_ms=50) as cache:
        cache.put(kek, b"c", SUITE, b"k" * 32)
        time.sleep(0.2)
        assert cache.get(kek, b"c", SUITE) is None
        assert cache.stats()["expirations"] == 1


def test_capacity_evicts_least_recently_used(keyring: Keyring, kek: Key) -> None:
    with DataKeyCache(capacity=2) as cache:
        cache.put(kek, b"a", SUITE, b"a" * 32)
        cache.put(kek, b"b", SUITE, b"b" * 32)
        cache.get(kek, b"a", SUITE).release()  # type: ignore[union-attr]  # a is now the most recent
        cache.put(kek, b"c", SUITE, b"c" * 32)  # evicts b
        assert cache.get(kek, b"b", SUITE) is None
        for ctx in (b"a", b"c"):
            with cache.get(kek, ctx, SUITE) as entry:  # type: ignore[union-attr]
                assert bytes(entry.data_key) == ctx * 32
        stats = cache.stats()
        assert stats["evictions"] == 1 and stats["entries"] == 2
    with pytest.raises(aios.LimitExceededError):
        DataKeyCache(capacity=1 << 20)


def test_evict_key_and_key_state(keyring: Keyring, kek: Key) -> None:
    other = keyring.add("other", KeyType.AES256)
    with DataKeyCache() as cache:
        for ctx in (b"1", b"2", b"3"):
            cache.put(kek, ctx, SUITE, b"k" * 32)
        cache.put(other, b"1", SUITE, b"o" * 32)
        cache.evict_key(kek)
        assert all(cache.get(kek, ctx, SUITE) is None for ctx in (b"1", b"2", b"3"))
        assert cache.get(other, b"1", SUITE) is not None
        # A disabled key version neither stores nor finds.
        keyring.rotate("other")
        cache.put(other, b"2", SUITE, b"o" * 32)
        keyring.disable("other", 1)
        assert cache.get(other, b"2", SUITE) is None
        with pytest.raises(aios.KeyDisabledError):
            cache.put(other, b"3", SUITE, b"o" * 32)


def test_entry_outlives_cache_and_views_block_release(kek: Key) -> None:
    cache = DataKeyCache()
    cache.put(kek, b"c", SUITE, b"z" * 32, b"wrapped")
    entry = cache.get(kek, b"c", SUITE)
    assert entry is not None
    cache.close()
    cache.close()
    assert cache.closed
    with pytest.raises(aios.StateError):
        cache.get(kek, b"c", SUITE)
    with pytest.raises(aios.StateError):
        cache.stats()
    view = entry.data_key
    with pytest.raises(BufferError):
        entry.release()
    assert not entry.released and bytes(view) == b"z" * 32 and entry.wrapped == b"wrapped"
    view.release()
    entry.release()
    assert entry.released
    with pytest.raises(TypeError):
        pickle.dumps(entry)
    with pytest.raises(TypeError):
        aios.CacheEntry()  # type: ignore[call-arg]


def test_closed_key_is_refused(kek: Key) -> None:
    with DataKeyCache() as cache:
        dead = __import__("copy").copy(kek)
        dead.close()
        with pytest.raises(aios.StateError):
            cache.put(dead, b"c", SUITE, b"k" * 32)


def test_concurrent_use(keyring: Keyring, kek: Key) -> None:
    errors: List[BaseException] = []
    with DataKeyCache(capacity=32) as cache:

        def worker(i: int) -> None:
            try:
                for j in range(200):
                    ctx = b"%d-%d" % (i, j % 16)
                    entry = cache.get(kek, ctx, SUITE, nbytes=10)
                    if entry is None:
                        cache.put(kek, ctx, SUITE, ctx.ljust(32, b"."))
                    else:
                        with entry:
                            assert bytes(entry.data_key) == ctx.ljust(32, b".")
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = cache.stats()
    assert errors == []
    assert stats["hits"] + stats["misses"] == 4 * 200
    assert stats["entries"] == 32 and stats["evictions"] > 0
    gc.collect()
