package aios

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBufferRoundTrip(t *testing.T) {
	for _, secure := range []bool{false, true} {
		for _, n := range []int{1, 31, 4096, 100_000} {
			t.Run(strconv.FormatBool(secure)+"/"+strconv.Itoa(n), func(t *testing.T) {
				data := randomBytes(t, n)
				b, err := BufferFromBytes(data, secure)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if b.Len() != n {
					t.Errorf("Len() = %d, want %d", b.Len(), n)
				}
				if b.Secure() != secure {
					t.Errorf("Secure() = %v, want %v", b.Secure(), secure)
				}
				wantFlags := BufferFlags(0)
				if secure {
					wantFlags = BufferSecure
				}
				if b.Flags() != wantFlags {
					t.Errorf("Flags() = %#x, want %#x", b.Flags(), wantFlags)
				}
				got, err := b.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatal("Bytes() differs from the input")
				}
				// Bytes is a copy: changing it changes nothing in b.
				got[0] ^= 0xff
				again, _ := b.Bytes()
				if !bytes.Equal(again, data) {
					t.Error("changing the result of Bytes() changed the buffer")
				}
				// The buffer holds a copy: changing the input changes nothing.
				data[0] ^= 0xff
				again, _ = b.Bytes()
				if bytes.Equal(again, data) {
					t.Error("changing the input changed the buffer")
				}
			})
		}
	}
}

func TestBufferEmpty(t *testing.T) {
	for _, secure := range []bool{false, true} {
		makers := map[string]func() (*Buffer, error){
			"NewBuffer(0)":          func() (*Buffer, error) { return NewBuffer(0, secure) },
			"BufferFromBytes(nil)":  func() (*Buffer, error) { return BufferFromBytes(nil, secure) },
			"BufferFromBytes([]{})": func() (*Buffer, error) { return BufferFromBytes([]byte{}, secure) },
		}
		for name, mk := range makers {
			b, err := mk()
			if err != nil {
				t.Fatalf("%s secure=%v: %v", name, secure, err)
			}
			got, err := b.Bytes()
			if err != nil || got == nil || len(got) != 0 || b.Len() != 0 || b.Secure() != secure {
				t.Errorf("%s secure=%v: Bytes() = %v, %v; Len() = %d", name, secure, got, err, b.Len())
			}
			if err := b.View(func(d []byte) error {
				if len(d) != 0 {
					t.Errorf("%s: View got %d bytes", name, len(d))
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			b.Close()
		}
	}
}

func TestNewBufferZeroFilled(t *testing.T) {
	for _, secure := range []bool{false, true} {
		b, err := NewBuffer(1000, secure)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := b.Bytes()
		if !bytes.Equal(got, make([]byte, 1000)) {
			t.Errorf("NewBuffer(1000, %v) is not zero-filled", secure)
		}
		b.Close()
	}
}

func TestBufferViewMutate(t *testing.T) {
	b, err := NewBuffer(16, true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Mutate(func(d []byte) error {
		copy(d, "0123456789abcdef")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var seen string
	if err := b.View(func(d []byte) error { seen = string(d); return nil }); err != nil {
		t.Fatal(err)
	}
	if seen != "0123456789abcdef" {
		t.Errorf("View saw %q after Mutate", seen)
	}
	sentinel := errors.New("from fn")
	if err := b.View(func([]byte) error { return sentinel }); err != sentinel {
		t.Errorf("View returned %v, want fn's error", err)
	}
	if err := b.Mutate(func([]byte) error { return sentinel }); err != sentinel {
		t.Errorf("Mutate returned %v, want fn's error", err)
	}
}

func TestNewBufferInvalid(t *testing.T) {
	_, err := NewBuffer(-1, false)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, StatusInvalidArgument) {
		t.Errorf("NewBuffer(-1) = %v, want ErrInvalid", err)
	}
	n := BufferMaxLen + 1
	_, err = NewBuffer(n, true)
	var ae *Error
	if !errors.As(err, &ae) || !errors.Is(err, ErrLimit) || ae.Status != StatusLimit {
		t.Fatalf("NewBuffer(BufferMaxLen+1) = %v, want ErrLimit", err)
	}
	if !strings.Contains(ae.Message, strconv.Itoa(n)) {
		t.Errorf("Message = %q, want the size %d", ae.Message, n)
	}
}

func TestMaxBufferLen(t *testing.T) {
	if BufferMaxLen != 1<<40 || BufferSecureMaxLen != 1<<28 {
		t.Errorf("BufferMaxLen = %d, BufferSecureMaxLen = %d", uint64(BufferMaxLen), BufferSecureMaxLen)
	}
	if got := MaxBufferLen(false); got != BufferMaxLen {
		t.Errorf("MaxBufferLen(false) = %d, want BufferMaxLen (%d)", got, uint64(BufferMaxLen))
	}
	if got := MaxBufferLen(true); got != BufferSecureMaxLen {
		t.Errorf("MaxBufferLen(true) = %d, want BufferSecureMaxLen (%d)", got, BufferSecureMaxLen)
	}
	// Each limit is the one NewBuffer enforces.
	for _, secure := range []bool{false, true} {
		n := int(MaxBufferLen(secure)) + 1
		_, err := NewBuffer(n, secure)
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != StatusLimit || !strings.Contains(ae.Message, strconv.Itoa(n)) {
			t.Errorf("NewBuffer(MaxBufferLen(%v)+1) = %v, want StatusLimit naming %d", secure, err, n)
		}
	}
}

// Protection comes from the library (aios_buffer_protection).
func TestBufferProtection(t *testing.T) {
	var nilBuf *Buffer
	if nilBuf.Protection() != ProtectReadWrite {
		t.Errorf("nil Buffer Protection() = %v", nilBuf.Protection())
	}
	b, err := NewBuffer(16, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Protection(); got != ProtectReadWrite {
		t.Errorf("new secure buffer: Protection() = %v", got)
	}
	for _, p := range []Protection{ProtectReadOnly, ProtectNoAccess, ProtectReadWrite, ProtectNoAccess} {
		if err := b.Protect(p); err != nil {
			t.Fatal(err)
		}
		if got := b.Protection(); got != p {
			t.Errorf("after Protect(%v): Protection() = %v", p, got)
		}
	}
	// A refused change leaves the protection as it was.
	if err := b.Protect(Protection(7)); err == nil {
		t.Error("Protect(7) succeeded")
	}
	if got := b.Protection(); got != ProtectNoAccess {
		t.Errorf("after a refused Protect: Protection() = %v, want noaccess", got)
	}
	b.Close()
	if got := b.Protection(); got != ProtectReadWrite {
		t.Errorf("after Close: Protection() = %v, want the zero value", got)
	}
	if s := Protection(7).String(); s != "Protection(7)" {
		t.Errorf("Protection(7).String() = %q", s)
	}
}

func TestBufferProtect(t *testing.T) {
	plain, err := NewBuffer(32, false)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, p := range []Protection{ProtectReadWrite, ProtectReadOnly, ProtectNoAccess} {
		err := plain.Protect(p)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, StatusUnsupported) {
			t.Errorf("Protect(%v) on a plain buffer = %v, want StatusUnsupported (ErrInvalid)", p, err)
		}
		if plain.Protection() != ProtectReadWrite {
			t.Errorf("plain buffer: Protection() = %v after Protect(%v)", plain.Protection(), p)
		}
	}

	sec, err := BufferFromBytes([]byte("top secret"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()
	if err := sec.Protect(Protection(7)); !errors.Is(err, StatusInvalidArgument) ||
		!strings.Contains(err.Error(), "7") {
		t.Errorf("Protect(7) = %v, want StatusInvalidArgument naming 7", err)
	}

	if err := sec.Protect(ProtectReadOnly); err != nil {
		t.Fatal(err)
	}
	if got, err := sec.Bytes(); err != nil || string(got) != "top secret" {
		t.Errorf("Bytes() while read-only = %q, %v", got, err)
	}
	if err := sec.Mutate(func([]byte) error { t.Error("Mutate ran fn while read-only"); return nil }); !errors.Is(err, ErrState) ||
		!strings.Contains(err.Error(), "readonly") {
		t.Errorf("Mutate while read-only = %v, want ErrState naming readonly", err)
	}

	if err := sec.Protect(ProtectNoAccess); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Bytes(); !errors.Is(err, ErrState) {
		t.Errorf("Bytes() while no-access = %v, want ErrState", err)
	}
	if err := sec.View(func([]byte) error { t.Error("View ran fn while no-access"); return nil }); !errors.Is(err, ErrState) {
		t.Errorf("View while no-access = %v, want ErrState", err)
	}
	if err := sec.Mutate(func([]byte) error { t.Error("Mutate ran fn while no-access"); return nil }); !errors.Is(err, ErrState) ||
		!strings.Contains(err.Error(), "noaccess") {
		t.Errorf("Mutate while no-access = %v, want ErrState naming noaccess", err)
	}
	if sec.Len() != 10 || !sec.Secure() { // metadata stays readable
		t.Errorf("Len() = %d, Secure() = %v while no-access", sec.Len(), sec.Secure())
	}

	if err := sec.Protect(ProtectReadWrite); err != nil {
		t.Fatal(err)
	}
	if err := sec.Mutate(func(d []byte) error { d[0] = 'T'; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := sec.Bytes(); string(got) != "Top secret" {
		t.Errorf("Bytes() = %q after Mutate", got)
	}

	// Closing a no-access buffer is fine (aios_buffer_free restores access).
	other, _ := NewBuffer(8, true)
	if err := other.Protect(ProtectNoAccess); err != nil {
		t.Fatal(err)
	}
	other.Close()
}

func TestBufferUseAfterClose(t *testing.T) {
	for _, secure := range []bool{false, true} {
		b, err := BufferFromBytes([]byte("data"), secure)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil { // idempotent
			t.Fatalf("second Close: %v", err)
		}
		if _, err := b.Bytes(); !errors.Is(err, ErrState) || !errors.Is(err, StatusState) {
			t.Errorf("Bytes after Close = %v, want ErrState", err)
		}
		if !strings.Contains(func() string { _, err := b.Bytes(); return err.Error() }(), "Close") {
			t.Errorf("the error does not say the buffer was closed")
		}
		if err := b.View(func([]byte) error { t.Error("View ran fn after Close"); return nil }); !errors.Is(err, ErrState) {
			t.Errorf("View after Close = %v", err)
		}
		if err := b.Mutate(func([]byte) error { t.Error("Mutate ran fn after Close"); return nil }); !errors.Is(err, ErrState) {
			t.Errorf("Mutate after Close = %v", err)
		}
		if err := b.Protect(ProtectReadOnly); !errors.Is(err, ErrState) {
			t.Errorf("Protect after Close = %v", err)
		}
		if b.Len() != 0 || b.Flags() != 0 || b.Secure() {
			t.Errorf("after Close: Len %d, Flags %#x, Secure %v", b.Len(), b.Flags(), b.Secure())
		}
	}

	var nilBuf *Buffer
	if _, err := nilBuf.Bytes(); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil Buffer Bytes = %v, want ErrInvalid", err)
	}
	if err := nilBuf.Protect(ProtectReadOnly); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil Buffer Protect = %v, want ErrInvalid", err)
	}
	if nilBuf.Len() != 0 || nilBuf.Close() != nil {
		t.Error("nil Buffer Len/Close")
	}
}

// Close racing with readers: every reader sees either the bytes or
// ErrState, never freed memory.
func TestBufferCloseWhileInUse(t *testing.T) {
	for round := 0; round < 20; round++ {
		data := randomBytes(t, 256)
		b, err := BufferFromBytes(data, round%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					got, err := b.Bytes()
					if err != nil {
						if !errors.Is(err, ErrState) {
							t.Errorf("Bytes: %v", err)
						}
						return
					}
					if !bytes.Equal(got, data) {
						t.Error("Bytes returned other bytes")
						return
					}
				}
			}()
		}
		b.Close()
		wg.Wait()
	}
}
