package aios

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Goroutines wrap, unwrap, sign and use a cache while another rotates,
// disables and destroys: every result is either right or one of the
// errors the lifecycle explains, and nothing races (run with -race).
func TestKeysConcurrentWithRotation(t *testing.T) {
	kr, _ := newKeyring(t)
	mustAdd(t, kr, "k", KeyAES256, KeySpec{})
	mustAdd(t, kr, "s", KeyEd25519, KeySpec{})
	cache := newCache(t, DataKeyCacheOptions{Capacity: 64})
	rounds := 60
	if testing.Short() {
		rounds = 15
	}

	var stop atomic.Bool
	var rotations atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the rotator
		defer wg.Done()
		defer stop.Store(true)
		for i := 0; i < 40; i++ {
			k, err := kr.Rotate("k")
			if err != nil {
				t.Errorf("Rotate: %v", err)
				return
			}
			v := k.Version()
			k.Close()
			rotations.Add(1)
			if v > 3 && i%3 == 0 {
				// An old version goes away; handles on it must fail cleanly.
				if err := kr.SetState("k", v-3, KeyDisabled); err != nil {
					t.Errorf("SetState: %v", err)
				}
				if err := kr.Destroy("k", v-3); err != nil {
					t.Errorf("Destroy: %v", err)
				}
			}
			if _, err := kr.List(); err != nil {
				t.Errorf("List: %v", err)
			}
		}
	}()

	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s, err := kr.Get("s", 0)
			if err != nil {
				t.Errorf("Get(s): %v", err)
				return
			}
			defer s.Close()
			for i := 0; i < rounds || !stop.Load(); i++ {
				k, err := kr.Get("k", 0)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				dk := []byte(fmt.Sprintf("data key %02d %04d", g, i))
				ad := []byte{byte(g)}
				w, err := k.Wrap(dk, ad)
				if errors.Is(err, ErrState) {
					// Rotated (decrypt-only), or since disabled or
					// destroyed, between Get and Wrap: fine.
					k.Close()
					continue
				}
				if err != nil {
					t.Errorf("Wrap: %v", err)
					k.Close()
					return
				}
				// The version that wrapped may have been destroyed since;
				// anything else must unwrap.
				b, err := k.Unwrap(w, ad)
				switch {
				case err == nil:
					if got, _ := b.Bytes(); !bytes.Equal(got, dk) {
						t.Errorf("goroutine %d: unwrapped the wrong data key", g)
					}
					b.Close()
				case errors.Is(err, StatusKeyDestroyed), errors.Is(err, StatusKeyDisabled):
				default:
					t.Errorf("Unwrap: %v", err)
				}
				// A second handle on the same version from another path.
				if k2, err := kr.Get("k", k.Version()); err == nil {
					if b, err := k2.Unwrap(w, ad); err == nil {
						b.Close()
					} else if !errors.Is(err, ErrState) {
						t.Errorf("Unwrap via Get(version): %v", err)
					}
					k2.Close()
				}
				if err := cache.Put(k, ad, 1, dk, w); err == nil {
					if e, err := cache.Get(k, ad, 1, 10); err == nil {
						if got, _ := e.DataKey(); !bytes.Equal(got, dk) {
							t.Errorf("cache returned another data key")
						}
						e.Release()
					}
				}
				sig, err := s.Sign(dk)
				if err != nil {
					t.Errorf("Sign: %v", err)
				} else if ok, err := s.Verify(sig, dk); !ok || err != nil {
					t.Errorf("Verify: %v %v", ok, err)
				}
				k.Close()
			}
		}(g)
	}
	wg.Wait()
	if rotations.Load() != 40 {
		t.Errorf("%d rotations", rotations.Load())
	}
	st, _ := cache.Stats()
	t.Logf("cache %+v", st)
}

// One Key shared by goroutines while one of them closes it: each call
// either works or fails with ErrState.
func TestKeySharedClose(t *testing.T) {
	kr, _ := newKeyring(t)
	k, err := kr.Add("k", KeyHMACSHA256, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := k.MAC([]byte("x")); err != nil && !errors.Is(err, ErrState) {
					t.Errorf("MAC: %v", err)
				}
				_ = k.ID()
			}
		}()
	}
	k.Close()
	wg.Wait()
}
