package aios

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func newCache(t *testing.T, o DataKeyCacheOptions) *DataKeyCache {
	t.Helper()
	c, err := NewDataKeyCache(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func stats(t *testing.T, c *DataKeyCache) DataKeyCacheStats {
	t.Helper()
	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDataKeyCacheHitMiss(t *testing.T) {
	kr, _ := newKeyring(t)
	k := mustAdd(t, kr, "kek", KeyAES256, KeySpec{})
	k2 := mustAdd(t, kr, "kek2", KeyAES256, KeySpec{})
	c := newCache(t, DataKeyCacheOptions{})
	dk := []byte("0123456789abcdef0123456789abcdef")
	wrapped, _ := k.Wrap(dk, []byte("tenant=a"))

	// A miss is ErrNotFound.
	e, err := c.Get(k, []byte("tenant=a"), 1, 100)
	if e != nil {
		t.Error("a miss returned an entry")
	}
	wantStatus(t, "Get(empty cache)", err, StatusNotFound)

	if err := c.Put(k, []byte("tenant=a"), 1, dk, wrapped); err != nil {
		t.Fatal(err)
	}
	e, err = c.Get(k, []byte("tenant=a"), 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.DataKey()
	w, _ := e.Wrapped()
	if !bytes.Equal(got, dk) || !bytes.Equal(w, wrapped) {
		t.Errorf("entry = %q / %x", got, w)
	}
	err = e.View(func(d, wr []byte) error {
		if !bytes.Equal(d, dk) || !bytes.Equal(wr, wrapped) {
			t.Error("View differs")
		}
		return errors.New("passed back")
	})
	if err == nil || err.Error() != "passed back" {
		t.Errorf("View's error = %v", err)
	}
	e.Release()
	e.Release()
	if _, err := e.DataKey(); !errors.Is(err, ErrState) {
		t.Errorf("DataKey after Release = %v", err)
	}

	// Each part of the triple counts.
	for name, get := range map[string]func() (*CacheEntry, error){
		"other key":     func() (*CacheEntry, error) { return c.Get(k2, []byte("tenant=a"), 1, 1) },
		"other context": func() (*CacheEntry, error) { return c.Get(k, []byte("tenant=b"), 1, 1) },
		"other suite":   func() (*CacheEntry, error) { return c.Get(k, []byte("tenant=a"), 2, 1) },
	} {
		if _, err := get(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without a wrapped key, and with an empty context.
	if err := c.Put(k, nil, 3, dk[:16], nil); err != nil {
		t.Fatal(err)
	}
	e, err = c.Get(k, []byte{}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := e.Wrapped(); len(w) != 0 {
		t.Errorf("Wrapped = %x, want empty", w)
	}
	e.Close()

	st := stats(t, c)
	if st.Hits != 2 || st.Misses != 4 || st.Entries != 2 || st.Evictions != 0 {
		t.Errorf("stats %+v", st)
	}

	// Bad input.
	if err := c.Put(k, nil, 1, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put(empty data key) = %v", err)
	}
	if err := c.Put(k, nil, 1, make([]byte, KeyDataKeyMax+1), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put(65-byte data key) = %v", err)
	}
	if err := c.Put(nil, nil, 1, dk, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put(nil key) = %v", err)
	}
}

func TestDataKeyCacheLimits(t *testing.T) {
	kr, _ := newKeyring(t)
	k := mustAdd(t, kr, "kek", KeyAES256, KeySpec{})
	dk := []byte("0123456789abcdef")

	t.Run("messages", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{MaxMessages: 2})
		c.Put(k, nil, 1, dk, nil)
		for i := 0; i < 2; i++ {
			e, err := c.Get(k, nil, 1, 10)
			if err != nil {
				t.Fatalf("use %d: %v", i+1, err)
			}
			e.Release()
		}
		_, err := c.Get(k, nil, 1, 10)
		wantStatus(t, "third message", err, StatusNotFound)
		if st := stats(t, c); st.Expirations != 1 || st.Entries != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{MaxBytes: 1000})
		c.Put(k, nil, 1, dk, nil)
		e, err := c.Get(k, nil, 1, 600)
		if err != nil {
			t.Fatal(err)
		}
		e.Release()
		if _, err := c.Get(k, nil, 1, 600); !errors.Is(err, ErrNotFound) {
			t.Errorf("over MaxBytes: %v", err)
		}
	})
	t.Run("age", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{MaxAge: 50 * time.Millisecond})
		c.Put(k, nil, 1, dk, nil)
		e, err := c.Get(k, nil, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(80 * time.Millisecond)
		if _, err := c.Get(k, nil, 1, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("after MaxAge: %v", err)
		}
		// A held entry outlives its eviction.
		if got, err := e.DataKey(); err != nil || !bytes.Equal(got, dk) {
			t.Errorf("held entry after eviction: %q, %v", got, err)
		}
		e.Release()
	})
	t.Run("capacity", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{Capacity: 2})
		for s := uint32(1); s <= 3; s++ {
			if err := c.Put(k, nil, s, dk, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Get(k, nil, 1, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("the least recently used entry stayed: %v", err)
		}
		for s := uint32(2); s <= 3; s++ {
			e, err := c.Get(k, nil, s, 1)
			if err != nil {
				t.Errorf("suite %d: %v", s, err)
				continue
			}
			e.Release()
		}
		if st := stats(t, c); st.Evictions != 1 || st.Entries != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("evict key", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{})
		k2 := mustAdd(t, kr, "kek-evict", KeyAES256, KeySpec{})
		c.Put(k, []byte("a"), 1, dk, nil)
		c.Put(k, []byte("b"), 1, dk, nil)
		c.Put(k2, []byte("a"), 1, dk, nil)
		if err := c.EvictKey(k); err != nil {
			t.Fatal(err)
		}
		if st := stats(t, c); st.Entries != 1 {
			t.Errorf("after EvictKey: %+v", st)
		}
		if e, err := c.Get(k2, []byte("a"), 1, 1); err != nil {
			t.Errorf("the other key's entry: %v", err)
		} else {
			e.Release()
		}
	})
	t.Run("disabled key", func(t *testing.T) {
		c := newCache(t, DataKeyCacheOptions{})
		k3 := mustAdd(t, kr, "kek-disable", KeyAES256, KeySpec{})
		c.Put(k3, nil, 1, dk, nil)
		r, _ := kr.Rotate("kek-disable")
		r.Close()
		if err := kr.SetState("kek-disable", 1, KeyDisabled); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(k3, nil, 1, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("entry of a disabled key: %v", err)
		}
		err := c.Put(k3, nil, 1, dk, nil)
		wantStatus(t, "Put with a disabled key", err, StatusKeyDisabled)
	})
	if _, err := NewDataKeyCache(DataKeyCacheOptions{MaxAge: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative MaxAge: %v", err)
	}
	if _, err := NewDataKeyCache(DataKeyCacheOptions{Capacity: 1 << 31}); !errors.Is(err, ErrLimit) {
		t.Errorf("capacity 2^31: %v", err)
	}
}

func TestDataKeyCacheClose(t *testing.T) {
	kr, _ := newKeyring(t)
	k := mustAdd(t, kr, "kek", KeyAES256, KeySpec{})
	c, err := NewDataKeyCache(DataKeyCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dk := []byte("0123456789abcdef")
	c.Put(k, nil, 1, dk, nil)
	e, err := c.Get(k, nil, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if got, err := e.DataKey(); err != nil || !bytes.Equal(got, dk) {
		t.Errorf("a held entry after the cache closed: %q, %v", got, err)
	}
	e.Release()
	if _, err := c.Get(k, nil, 1, 1); !errors.Is(err, ErrState) {
		t.Errorf("Get after Close = %v", err)
	}
	if _, err := c.Stats(); !errors.Is(err, ErrState) {
		t.Errorf("Stats after Close = %v", err)
	}
	if err := c.EvictKey(k); !errors.Is(err, ErrState) {
		t.Errorf("EvictKey after Close = %v", err)
	}
	k.Close()
	c2 := newCache(t, DataKeyCacheOptions{})
	if err := c2.Put(k, nil, 1, dk, nil); !errors.Is(err, ErrState) {
		t.Errorf("Put with a closed key = %v", err)
	}
}
