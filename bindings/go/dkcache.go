package aios

/*
#include "shim.h"
*/
import "C"

import (
	"math"
	"runtime"
	"time"
	"unsafe"
)

// DataKeyCacheOptions bounds a DataKeyCache (aios_dkcache_options). Zero
// fields take the library's defaults.
type DataKeyCacheOptions struct {
	Capacity    uint32        // entries (0: 1024; at most 65536); the least recently used is evicted
	MaxAge      time.Duration // an entry's lifetime, rounded up to whole ms (0: 5 minutes)
	MaxMessages uint64        // uses (Get calls) per entry (0: 2^32)
	MaxBytes    uint64        // bytes processed per entry, the sum of Get's nbytes (0: 2^40)
}

// DataKeyCacheStats are a cache's counters (aios_dkcache_stats).
type DataKeyCacheStats struct {
	Hits        uint64
	Misses      uint64
	Evictions   uint64 // by capacity
	Expirations uint64 // by age, messages or bytes
	Entries     uint64 // now
}

// DataKeyCache keeps unwrapped (or freshly generated) data keys, so a host
// does not call its KMS for every record (aios_dkcache): entries keyed by
// (key, context, suite), limited by age, messages and bytes, evicted least
// recently used, held in guarded memory and wiped on eviction.
//
// A key version that is disabled or destroyed neither stores nor finds
// entries (Put fails with StatusKeyDisabled or StatusKeyDestroyed; Get
// misses). Put does not count as a message.
//
// A DataKeyCache is safe for concurrent use (the library locks
// internally). Close wipes every entry; entries still held stay valid
// until released.
type DataKeyCache struct {
	h handle[*C.aios_dkcache]
}

func freeDKCache(p *C.aios_dkcache) { C.aios_dkcache_free(p) }

// NewDataKeyCache returns an empty cache (aios_dkcache_new).
func NewDataKeyCache(opts DataKeyCacheOptions) (*DataKeyCache, error) {
	if opts.MaxAge < 0 {
		return nil, newError(StatusInvalidArgument, "aios.NewDataKeyCache: MaxAge is negative: "+opts.MaxAge.String())
	}
	ms := uint64((opts.MaxAge + time.Millisecond - 1) / time.Millisecond)
	var out *C.aios_dkcache
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_dkcache_new(&out, C.uint32_t(opts.Capacity), C.uint64_t(ms),
		C.uint64_t(opts.MaxMessages), C.uint64_t(opts.MaxBytes), e)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	c := &DataKeyCache{}
	attachHandle(c, &c.h, out, freeDKCache)
	return c, nil
}

// Close wipes every entry and frees the cache (aios_dkcache_free).
// Entries still held stay valid until released. Idempotent; always nil.
func (c *DataKeyCache) Close() error {
	if c == nil {
		return nil
	}
	c.h.close(freeDKCache)
	runtime.KeepAlive(c)
	return nil
}

// withKey runs fn with the cache and the key read-locked.
func (c *DataKeyCache) withKey(key *Key, fn func(cp *C.aios_dkcache, kp *C.aios_key)) error {
	if c == nil {
		return nilError("DataKeyCache")
	}
	if key == nil {
		return newError(StatusInvalidArgument, "aios.DataKeyCache: key is nil")
	}
	cp, err := c.h.read("DataKeyCache")
	if err != nil {
		return err
	}
	defer c.h.runlock()
	kp, err := key.h.read("Key")
	if err != nil {
		return err
	}
	defer key.h.runlock()
	fn(cp, kp)
	runtime.KeepAlive(c)
	runtime.KeepAlive(key)
	return nil
}

// Put stores a data key, and optionally what it was wrapped into, for
// (key, context, suite) (aios_dkcache_put), replacing an older entry for
// the same triple. The cache copies both into guarded memory; Wipe your
// dataKey when done.
func (c *DataKeyCache) Put(key *Key, context []byte, suite uint32, dataKey, wrapped []byte) error {
	var rc C.int
	e := getCErr()
	defer putCErr(e)
	err := c.withKey(key, func(cp *C.aios_dkcache, kp *C.aios_key) {
		xp, xn := bytesArg(context)
		dp, dn := bytesArg(dataKey)
		wp, wn := bytesArg(wrapped)
		rc = C.aiosgo_dkcache_put(cp, kp, xp, xn, C.uint32_t(suite), dp, dn, wp, wn, e)
	})
	runtime.KeepAlive(context)
	runtime.KeepAlive(dataKey)
	runtime.KeepAlive(wrapped)
	if err != nil {
		return err
	}
	return errorFrom(rc, e)
}

// Get looks up (key, context, suite) and counts one message of nbytes
// bytes against the entry's limits (aios_dkcache_get).
//
// A miss is an error: an *Error with Status StatusNotFound, so
// errors.Is(err, aios.ErrNotFound) tells it from real failures; an entry
// that has just reached its age, message or byte limit is evicted and is a
// miss too. (A nil entry with a nil error would be too easy to use
// unchecked.) On a hit the entry is the caller's until Release.
func (c *DataKeyCache) Get(key *Key, context []byte, suite uint32, nbytes uint64) (*CacheEntry, error) {
	var rc C.int
	var out *C.aios_dkcache_entry
	e := getCErr()
	defer putCErr(e)
	err := c.withKey(key, func(cp *C.aios_dkcache, kp *C.aios_key) {
		xp, xn := bytesArg(context)
		rc = C.aiosgo_dkcache_get(cp, &out, kp, xp, xn, C.uint32_t(suite), C.uint64_t(nbytes), e)
	})
	runtime.KeepAlive(context)
	if err != nil {
		return nil, err
	}
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	ent := &CacheEntry{}
	attachHandle(ent, &ent.h, out, freeEntry)
	return ent, nil
}

// EvictKey drops every entry of key, all contexts and suites
// (aios_dkcache_evict_key), for example after the key was disabled.
func (c *DataKeyCache) EvictKey(key *Key) error {
	return c.withKey(key, func(cp *C.aios_dkcache, kp *C.aios_key) {
		C.aios_dkcache_evict_key(cp, kp)
	})
}

// Stats returns the cache's counters (aios_dkcache_get_stats).
func (c *DataKeyCache) Stats() (DataKeyCacheStats, error) {
	if c == nil {
		return DataKeyCacheStats{}, nilError("DataKeyCache")
	}
	cp, err := c.h.read("DataKeyCache")
	if err != nil {
		return DataKeyCacheStats{}, err
	}
	var st C.aios_dkcache_stats
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_dkcache_get_stats(cp, &st, e)
	c.h.runlock()
	runtime.KeepAlive(c)
	if err := errorFrom(rc, e); err != nil {
		return DataKeyCacheStats{}, err
	}
	return DataKeyCacheStats{
		Hits: uint64(st.hits), Misses: uint64(st.misses), Evictions: uint64(st.evictions),
		Expirations: uint64(st.expirations), Entries: uint64(st.entries),
	}, nil
}

// CacheEntry is one cached data key, held (aios_dkcache_entry): it stays
// valid after its eviction or the cache's Close, until Release. A cleanup
// releases a forgotten one. Safe for concurrent use.
type CacheEntry struct {
	h handle[*C.aios_dkcache_entry]
}

func freeEntry(p *C.aios_dkcache_entry) { C.aios_dkcache_entry_release(p) }

// Release gives the entry back (aios_dkcache_entry_release); the data key
// is wiped once the cache no longer holds it either. Idempotent; always
// nil.
func (ent *CacheEntry) Release() error {
	if ent == nil {
		return nil
	}
	ent.h.close(freeEntry)
	runtime.KeepAlive(ent)
	return nil
}

// Close is Release, for io.Closer.
func (ent *CacheEntry) Close() error { return ent.Release() }

// View calls fn with the entry's data key and wrapped key in place
// (aios_dkcache_entry_data_key, aios_dkcache_entry_wrapped), without a
// copy, and returns fn's error. wrapped is empty when none was stored. The
// slices alias guarded library memory: fn must not modify them, keep
// them, or use them after returning.
func (ent *CacheEntry) View(fn func(dataKey, wrapped []byte) error) error {
	if ent == nil {
		return nilError("CacheEntry")
	}
	p, err := ent.h.read("CacheEntry")
	if err != nil {
		return err
	}
	defer ent.h.runlock()
	var dn, wn C.size_t
	dp := C.aios_dkcache_entry_data_key(p, &dn)
	wp := C.aios_dkcache_entry_wrapped(p, &wn)
	err = fn(cSlice(dp, dn), cSlice(wp, wn))
	runtime.KeepAlive(ent)
	return err
}

func cSlice(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return []byte{}
	}
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// DataKey returns a copy of the data key in Go memory, which Go cannot
// lock or wipe for you: prefer View, or Wipe the copy when done.
func (ent *CacheEntry) DataKey() ([]byte, error) {
	var out []byte
	err := ent.View(func(dk, _ []byte) error {
		out = append([]byte(nil), dk...)
		return nil
	})
	return out, err
}

// Wrapped returns a copy of the wrapped data key stored with the entry;
// empty when none was.
func (ent *CacheEntry) Wrapped() ([]byte, error) {
	var out []byte
	err := ent.View(func(_, w []byte) error {
		out = append([]byte{}, w...)
		return nil
	})
	return out, err
}
