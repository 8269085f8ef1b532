package aios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/iotest"
)

// envFixture is a keyring with a local KEK and an X25519 key pair, plus
// the X25519 public key as a public-only handle (what a producer holds).
type envFixture struct {
	kr      *Keyring
	kek     *Key // "kek" v1, local AES-256
	other   *Key // "other-kek" v1, local AES-256
	xpriv   *Key // "svc" v1, local X25519
	xpub    *Key // the public half of xpriv, from PEM
	keys    *EnvelopeKeys
	context map[string]string
}

func newEnvFixture(t *testing.T) *envFixture {
	t.Helper()
	kr, _ := newKeyring(t)
	f := &envFixture{kr: kr, context: map[string]string{"tenant": "acme", "region": "eu-west-1"}}
	f.kek = mustAdd(t, kr, "kek", KeyAES256, KeySpec{})
	f.other = mustAdd(t, kr, "other-kek", KeyAES256, KeySpec{})
	f.xpriv = mustAdd(t, kr, "svc", KeyX25519, KeySpec{})
	pem, err := f.xpriv.PublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	if f.xpub, err = KeyFromPublicPEM(pem, "svc-public"); err != nil {
		t.Fatalf("KeyFromPublicPEM: %v", err)
	}
	t.Cleanup(func() { f.xpub.Close() })
	f.keys = mustEnvelopeKeys(t, []*Key{f.kek}, nil)
	return f
}

func mustEnvelopeKeys(t *testing.T, keys []*Key, providers []*Provider) *EnvelopeKeys {
	t.Helper()
	ks, err := NewEnvelopeKeys(keys, providers)
	if err != nil {
		t.Fatalf("NewEnvelopeKeys: %v", err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mustSeal(t *testing.T, pt []byte, recipients []*Key, ctx map[string]string, opts *SealOptions) []byte {
	t.Helper()
	msg, err := Seal(pt, recipients, ctx, opts)
	if err != nil {
		t.Fatalf("Seal(%d bytes): %v", len(pt), err)
	}
	return msg
}

func mustOpen(t *testing.T, msg []byte, keys *EnvelopeKeys, opts *OpenOptions, want []byte) {
	t.Helper()
	got, err := Open(msg, keys, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Open returned %d bytes that differ from the %d sealed", len(got), len(want))
	}
	// Opened in place into a slice of the message's length, then cut: the
	// result must not expose (or let append write into) the rest.
	if cap(got) != len(got) {
		t.Fatalf("Open returned a slice of len %d, cap %d", len(got), cap(got))
	}
}

// The envelope statuses keep their numbers, names and kinds, and an error
// carrying one matches both the exact status and its kind's sentinel.
func TestEnvelopeStatuses(t *testing.T) {
	want := []struct {
		s    Status
		name string
		kind error
	}{
		{StatusEnvelopeNoRecipient, "AIOS_E_ENVELOPE_NO_RECIPIENT", ErrNotFound},
		{StatusEnvelopeCommitment, "AIOS_E_ENVELOPE_COMMITMENT", ErrAuth},
		{StatusEnvelopeContextMismatch, "AIOS_E_ENVELOPE_CONTEXT_MISMATCH", ErrAuth},
		{StatusEnvelopeTruncated, "AIOS_E_ENVELOPE_TRUNCATED", ErrAuth},
		{StatusEnvelopeTrailingData, "AIOS_E_ENVELOPE_TRAILING_DATA", ErrInvalid},
		{StatusEnvelopeUnknownSession, "AIOS_E_ENVELOPE_UNKNOWN_SESSION", ErrNotFound},
		{StatusEnvelopeMode, "AIOS_E_ENVELOPE_MODE", ErrInvalid},
	}
	for i, w := range want {
		if int(w.s) != -200-i {
			t.Errorf("%s = %d, want %d", w.name, w.s, -200-i)
		}
		if w.s.Name() != w.name || w.s.String() != w.name {
			t.Errorf("Status(%d).Name() = %q, want %q", w.s, w.s.Name(), w.name)
		}
		if w.s.Kind().Sentinel() != w.kind {
			t.Errorf("%s: kind %v, want %v", w.name, w.s.Kind(), w.kind)
		}
		if StatusString(w.s) == "unknown status" {
			t.Errorf("%s has no description", w.name)
		}
		err := error(newError(w.s, "test"))
		if !errors.Is(err, w.s) || !errors.Is(err, w.kind) {
			t.Errorf("errors.Is(%v, %s / its kind) = false", err, w.name)
		}
		for _, other := range want {
			if other.s != w.s && errors.Is(err, other.s) {
				t.Errorf("errors.Is(%v, %s) = true", err, other.name)
			}
		}
	}
	if StatusName(-207) != "AIOS_E_UNKNOWN" {
		t.Errorf("status -207 is known (%s): add its Go constant", StatusName(-207))
	}
}

func TestEnvelopeConstants(t *testing.T) {
	if EnvelopeHeaderMaxLen() != EnvelopeHeaderMax {
		t.Errorf("EnvelopeHeaderMaxLen() = %d, header says %d", EnvelopeHeaderMaxLen(), EnvelopeHeaderMax)
	}
	if EnvelopeRecordOverheadLen() != EnvelopeRecordOverhead || EnvelopeRecordOverhead != 74 {
		t.Errorf("EnvelopeRecordOverheadLen() = %d, header says %d", EnvelopeRecordOverheadLen(), EnvelopeRecordOverhead)
	}
	for s, name := range map[Suite]string{
		SuiteAuto: "auto", SuiteAES256GCM: "aes256gcm", SuiteXChaCha20Poly1305: "xchacha20poly1305",
		SuiteAES256SIV: "aes256siv", SuitePortable: "portable",
	} {
		if s.Name() != name || s.String() != name {
			t.Errorf("Suite(%d).Name() = %q, want %q", int(s), s.Name(), name)
		}
	}
	if Suite(77).Name() != "unknown" || Suite(77).String() != "Suite(77)" {
		t.Errorf("Suite(77) = %q / %q", Suite(77).Name(), Suite(77).String())
	}
}

// One-shot round trips across the chunk boundaries, in both suites, with
// the header described by Peek and HeaderLen.
func TestEnvelopeSealOpenKEK(t *testing.T) {
	f := newEnvFixture(t)
	for _, suite := range []Suite{SuiteAES256GCM, SuiteXChaCha20Poly1305, SuiteAuto, SuitePortable} {
		for _, n := range []int{0, 1, 4095, 4096, 4097, 3*4096 + 5, 100000} {
			t.Run(fmt.Sprintf("%v/%d", suite, n), func(t *testing.T) {
				pt := randBytes(n)
				opts := &SealOptions{Suite: suite, ChunkSize: 4096, Threads: 2}
				msg := mustSeal(t, pt, []*Key{f.kek}, f.context, opts)
				if bytes.Contains(msg, pt) && n > 16 {
					t.Fatal("the message holds the plaintext")
				}
				mustOpen(t, msg, f.keys, nil, pt)
				mustOpen(t, msg, f.keys, &OpenOptions{ExpectedContext: f.context, Threads: 3}, pt)

				info, err := Peek(msg)
				if err != nil {
					t.Fatalf("Peek: %v", err)
				}
				if info.Type != "message" || info.ChunkSize != 4096 || info.Authenticated || info.OpenedBy != -1 {
					t.Errorf("Peek: %+v", info)
				}
				if suite == SuiteAES256GCM || suite == SuiteXChaCha20Poly1305 {
					if info.Suite != suite || info.SuiteName != suite.Name() {
						t.Errorf("Peek suite %v (%q), want %v", info.Suite, info.SuiteName, suite)
					}
				}
				if suite == SuitePortable && info.Suite != SuiteXChaCha20Poly1305 {
					t.Errorf("portable sealed with %v", info.Suite)
				}
				if len(info.Context) != 2 || info.Context["tenant"] != "acme" || info.Context["region"] != "eu-west-1" {
					t.Errorf("Peek context %v", info.Context)
				}
				if len(info.Recipients) != 1 {
					t.Fatalf("Peek recipients %+v", info.Recipients)
				}
				r := info.Recipients[0]
				if r.Kind != "kek" || r.Provider != "local" || r.KeyID != "kek" || r.Version != 1 {
					t.Errorf("Peek recipient %+v", r)
				}
				if len(info.MessageID) == 0 || len(info.SessionID) != EnvelopeSessionIDLen {
					t.Errorf("Peek ids: message %x, commitment %x", info.MessageID, info.SessionID)
				}
				hl, err := HeaderLen(msg)
				if err != nil || hl != info.HeaderLen || hl <= 0 || hl >= len(msg) {
					t.Fatalf("HeaderLen = %d, %v; Peek says %d; message %d bytes", hl, err, info.HeaderLen, len(msg))
				}
				chunks := max(1, (n+4095)/4096)
				if want := hl + n + 16*chunks; len(msg) != want {
					t.Errorf("message is %d bytes, want header %d + %d + 16 per chunk = %d", len(msg), hl, n, want)
				}
				// Peek needs only the header.
				if info2, err := Peek(msg[:hl]); err != nil || info2.HeaderLen != hl {
					t.Errorf("Peek(header only) = %v, %v", info2, err)
				}
			})
		}
	}
}

func TestEnvelopeHeaderLenIncremental(t *testing.T) {
	f := newEnvFixture(t)
	msg := mustSeal(t, []byte("hello"), []*Key{f.kek}, f.context, nil)
	full, err := HeaderLen(msg)
	if err != nil {
		t.Fatal(err)
	}
	// Feed more bytes as asked until the length is known.
	have := 0
	for steps := 0; ; steps++ {
		n, err := HeaderLen(msg[:have])
		if err == nil {
			if n != full {
				t.Fatalf("HeaderLen(%d bytes) = %d, want %d", have, n, full)
			}
			break
		}
		wantStatus(t, "HeaderLen(short)", err, StatusBufferTooSmall)
		if n <= have || n > full || steps > 5 {
			t.Fatalf("HeaderLen(%d bytes) asks for %d (header %d)", have, n, full)
		}
		have = n
	}
	if _, err := HeaderLen([]byte("this is not an envelope header at all")); !errors.Is(err, ErrInvalid) {
		t.Errorf("HeaderLen(garbage) = %v, want ErrInvalid", err)
	}
	if _, err := Peek([]byte("this is not an envelope header at all")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Peek(garbage) = %v, want ErrInvalid", err)
	}
}

// A producer holding only the X25519 public key seals; the service with
// the private key opens. Mixed recipients open with each key alone.
func TestEnvelopeX25519AndMixed(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(10000)
	msg := mustSeal(t, pt, []*Key{f.xpub}, nil, nil)
	mustOpen(t, msg, mustEnvelopeKeys(t, []*Key{f.xpriv}, nil), nil, pt)
	// The public half cannot open, nor can the KEK.
	_, err := Open(msg, mustEnvelopeKeys(t, []*Key{f.kek}, nil), nil)
	wantStatus(t, "Open(x25519 message, KEK only)", err, StatusEnvelopeNoRecipient)

	mixed := mustSeal(t, pt, []*Key{f.kek, f.xpub, f.other}, f.context, nil)
	info, err := Peek(mixed)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Recipients) != 3 || info.Recipients[0].Kind != "kek" || info.Recipients[1].Kind != "x25519" ||
		info.Recipients[2].KeyID != "other-kek" {
		t.Fatalf("recipients %+v", info.Recipients)
	}
	pub, err := f.xpub.PublicRaw()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info.Recipients[1].PublicKey, pub) {
		t.Errorf("x25519 record public key %x, want %x", info.Recipients[1].PublicKey, pub)
	}
	for _, k := range []*Key{f.kek, f.xpriv, f.other} {
		mustOpen(t, mixed, mustEnvelopeKeys(t, []*Key{k}, nil), nil, pt)
	}
	// A set holding the keyring's provider resolves the KEK records by name.
	prov, err := f.kr.Provider()
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, mixed, mustEnvelopeKeys(t, nil, []*Provider{prov}), nil, pt)

	// OpenReader reports which record opened it.
	or, err := NewOpenReader(bytes.NewReader(mixed), mustEnvelopeKeys(t, []*Key{f.xpriv}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer or.Close()
	if _, err := or.Info(); !errors.Is(err, StatusState) {
		t.Errorf("Info before the header: %v, want StatusState", err)
	}
	got, err := io.ReadAll(or)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("OpenReader: %d bytes, %v", len(got), err)
	}
	oi, err := or.Info()
	if err != nil {
		t.Fatal(err)
	}
	if !oi.Authenticated || oi.OpenedBy != 1 || len(oi.Recipients) != 3 {
		t.Errorf("opener info: authenticated %v, opened by %d, %d recipients", oi.Authenticated, oi.OpenedBy, len(oi.Recipients))
	}
}

func TestEnvelopeOpenErrors(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(3*4096 + 5)
	msg := mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})
	hl, err := HeaderLen(msg)
	if err != nil {
		t.Fatal(err)
	}

	// A set without a matching key.
	_, err = Open(msg, mustEnvelopeKeys(t, []*Key{f.other}, nil), nil)
	wantStatus(t, "Open with another KEK", err, StatusEnvelopeNoRecipient)
	_, err = Open(msg, mustEnvelopeKeys(t, nil, nil), nil)
	wantStatus(t, "Open with an empty set", err, StatusEnvelopeNoRecipient)

	// A key of the same provider, id and version but other material: the
	// record matches, the unwrap fails.
	kr2, _ := newKeyring(t)
	impostor := mustAdd(t, kr2, "kek", KeyAES256, KeySpec{})
	_, err = Open(msg, mustEnvelopeKeys(t, []*Key{impostor}, nil), nil)
	wantStatus(t, "Open with an impostor KEK", err, StatusAuth)

	// Expected contexts.
	mustOpen(t, msg, f.keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "acme"}, ContextMode: ContextSubset}, pt)
	mustOpen(t, msg, f.keys, &OpenOptions{ExpectedContext: f.context, ContextMode: ContextExact}, pt)
	for name, o := range map[string]*OpenOptions{
		"subset, exact mode":   {ExpectedContext: map[string]string{"tenant": "acme"}, ContextMode: ContextExact},
		"subset, default mode": {ExpectedContext: map[string]string{"tenant": "acme"}},
		"other tenant":         {ExpectedContext: map[string]string{"tenant": "evil"}, ContextMode: ContextSubset},
		"extra entry":          {ExpectedContext: map[string]string{"tenant": "acme", "region": "eu-west-1", "x": "y"}, ContextMode: ContextSubset},
	} {
		_, err := Open(msg, f.keys, o)
		wantStatus(t, "Open, expected context "+name, err, StatusEnvelopeContextMismatch)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v is not ErrAuth", name, err)
		}
	}
	// The context is checked before any key is used.
	_, err = Open(msg, mustEnvelopeKeys(t, nil, nil), &OpenOptions{ExpectedContext: map[string]string{"tenant": "evil"}})
	wantStatus(t, "Open, no keys and a wrong context", err, StatusEnvelopeContextMismatch)

	// A flipped byte in each chunk, in the commitment/tag area and at the end.
	for _, off := range []int{hl, hl + 4112 + 7, len(msg) - 1, hl - 1} {
		bad := bytes.Clone(msg)
		bad[off] ^= 0x20
		if _, err := Open(bad, f.keys, nil); !errors.Is(err, ErrAuth) {
			t.Errorf("Open with byte %d flipped: %v, want ErrAuth", off, err)
		}
	}
	// Cut after a whole chunk: truncated. Cut inside a chunk: AUTH or
	// truncated, never success.
	_, err = Open(msg[:hl+3*4112], f.keys, nil)
	wantStatus(t, "Open without the final chunk", err, StatusEnvelopeTruncated)
	if _, err := Open(msg[:len(msg)-3], f.keys, nil); !errors.Is(err, ErrAuth) {
		t.Errorf("Open cut in the final chunk: %v, want ErrAuth", err)
	}
	if _, err := Open(msg[:hl], f.keys, nil); !errors.Is(err, StatusEnvelopeTruncated) {
		t.Errorf("Open of the header alone: %v, want StatusEnvelopeTruncated", err)
	}
	if _, err := Open(msg[:10], f.keys, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open of 10 bytes: %v, want ErrInvalid", err)
	}

	// Bad arguments.
	if _, err := Seal(pt, nil, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with no recipient: %v", err)
	}
	if _, err := Seal(pt, []*Key{f.kek, nil}, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with a nil recipient: %v", err)
	}
	if _, err := Seal(pt, []*Key{f.kek}, map[string]string{"a\x00b": "c"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with a NUL in the context: %v", err)
	}
	if _, err := Seal(pt, []*Key{f.kek}, map[string]string{"aios.x": "reserved"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with a reserved context key: %v", err)
	}
	if _, err := Seal(pt, []*Key{f.kek}, nil, &SealOptions{ChunkSize: 100}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with a 100-byte chunk size: %v", err)
	}
	sig := mustAdd(t, f.kr, "sig", KeyEd25519, KeySpec{})
	if _, err := Seal(pt, []*Key{sig}, nil, nil); err == nil {
		t.Error("Seal to a signing key succeeded")
	}
	if _, err := Open(msg, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with nil keys: %v", err)
	}
}

// Bytes after a full final chunk are trailing data for the one-shot Open
// as for the streaming opener (FORMAT.md 8.4 step 4, 12.1 step 14, and
// 15 item 11: "a byte appended (TRAILING_DATA)"); after a short final
// chunk they make that chunk fail.
func TestEnvelopeOpenTrailingData(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(2*4096 + 5)
	msg := mustSeal(t, pt, []*Key{f.kek}, nil, &SealOptions{ChunkSize: 4096})
	full := mustSeal(t, pt[:2*4096], []*Key{f.kek}, nil, &SealOptions{ChunkSize: 4096})
	for _, extra := range []int{1, 2, 16, 100} {
		if _, err := Open(append(bytes.Clone(full), make([]byte, extra)...), f.keys, nil); !errors.Is(err, StatusEnvelopeTrailingData) {
			t.Errorf("Open with %d bytes appended: %v, want StatusEnvelopeTrailingData", extra, err)
		}
	}
	if _, err := Open(append(bytes.Clone(msg), 0), f.keys, nil); !errors.Is(err, ErrAuth) {
		t.Errorf("Open with a byte appended to a short final chunk: %v, want ErrAuth", err)
	}
	// So does random access (the vector trailing-byte says so for all
	// three shapes).
	if _, err := NewEnvelopeReader(append(bytes.Clone(full), 0), f.keys, nil); !errors.Is(err, StatusEnvelopeTrailingData) {
		t.Errorf("NewEnvelopeReader with a byte appended: %v, want StatusEnvelopeTrailingData", err)
	}
	// The descriptor loop agrees.
	err := OpenFile(createTemp(t, "out"), writeTemp(t, "in", append(bytes.Clone(full), 0)), f.keys, nil)
	wantStatus(t, "OpenFile with a byte appended", err, StatusEnvelopeTrailingData)
}

// OpenBuffer leaves the plaintext in a library Buffer; one key set serves
// many goroutines at once.
func TestEnvelopeOpenBufferAndSharedKeys(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(9000)
	msg := mustSeal(t, pt, []*Key{f.kek, f.xpub}, f.context, nil)
	buf, err := OpenBuffer(msg, f.keys, &OpenOptions{ExpectedContext: f.context})
	if err != nil {
		t.Fatalf("OpenBuffer: %v", err)
	}
	if buf.Len() != len(pt) {
		t.Errorf("OpenBuffer: %d bytes, want %d", buf.Len(), len(pt))
	}
	if err := buf.View(func(b []byte) error {
		if !bytes.Equal(b, pt) {
			return errors.New("content differs")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	buf.Close()
	_, err = OpenBuffer(msg, f.keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "x"}})
	wantStatus(t, "OpenBuffer with a wrong context", err, StatusEnvelopeContextMismatch)

	both := mustEnvelopeKeys(t, []*Key{f.xpriv, f.kek}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				got, err := Open(msg, both, nil)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("Open: %d bytes, %v", len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The same key listed twice, and keys closed after sealing or after being
// added to a set.
func TestEnvelopeHandles(t *testing.T) {
	f := newEnvFixture(t)
	// Listing one *Key twice must not deadlock on its lock; the library
	// refuses the duplicate.
	if _, err := Seal([]byte("x"), []*Key{f.kek, f.kek}, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Seal to one key twice: %v, want ErrInvalid", err)
	}
	msg := mustSeal(t, []byte("x"), []*Key{f.kek}, nil, nil)
	ref, err := f.kek.Ref()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewEnvelopeKeys([]*Key{ref}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref.Close() // the set holds its own reference
	mustOpen(t, msg, ks, nil, []byte("x"))
	if err := ks.AddKey(ref); !errors.Is(err, ErrState) {
		t.Errorf("AddKey(closed key) = %v, want ErrState", err)
	}
	ks.Close()
	ks.Close()
	if _, err := Open(msg, ks, nil); !errors.Is(err, ErrState) {
		t.Errorf("Open with a closed set: %v, want ErrState", err)
	}
	if _, err := Seal([]byte("x"), []*Key{ref}, nil, nil); !errors.Is(err, ErrState) {
		t.Errorf("Seal to a closed key: %v, want ErrState", err)
	}
}

// A KEK in the host's KMS (callback provider): the host's own error comes
// back through Open's error.
func TestEnvelopeCallbackProvider(t *testing.T) {
	kms := newFakeKMS()
	p := newCallbackProvider(t, "kms", kms, 0)
	k := getKey(t, p, "wrap-key")
	pt := randBytes(5000)
	msg := mustSeal(t, pt, []*Key{k}, map[string]string{"app": "x"}, nil)
	info, err := Peek(msg)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.Recipients[0]; r.Kind != "kek" || r.Provider != "callback:kms" || r.KeyID != "wrap-key" {
		t.Errorf("recipient %+v", r)
	}
	mustOpen(t, msg, mustEnvelopeKeys(t, []*Key{k}, nil), nil, pt)
	mustOpen(t, msg, mustEnvelopeKeys(t, nil, []*Provider{p}), nil, pt)

	hostErr := &kmsError{code: 7}
	kms.hook = func(ctx context.Context, op, id string, in, ad []byte) error {
		if op == "unwrap" || op == "wrap" {
			return hostErr
		}
		return nil
	}
	_, err = Open(msg, mustEnvelopeKeys(t, []*Key{k}, nil), nil)
	var ke *kmsError
	if !errors.As(err, &ke) || ke != hostErr || !errors.Is(err, ErrCallback) {
		t.Errorf("Open with a failing host: %v, want the host's error", err)
	}
	_, err = Seal(pt, []*Key{f2(t).kek, k}, nil, nil)
	if !errors.As(err, &ke) || ke != hostErr {
		t.Errorf("Seal with a failing host: %v, want the host's error", err)
	}
	kms.hook = nil
	assertNothingPending(t, p)
}

// Two host KMSs in one call: the error that comes back is the host's
// that made the call fail, and nothing stays registered with either.
func TestEnvelopeTwoCallbackProviders(t *testing.T) {
	kmsA, kmsB := newFakeKMS(), newFakeKMS()
	pa := newCallbackProvider(t, "kms-a", kmsA, 0)
	pb := newCallbackProvider(t, "kms-b", kmsB, 0)
	ka, kb := getKey(t, pa, "wrap-key"), getKey(t, pb, "other-key")
	pt := randBytes(100)
	msg := mustSeal(t, pt, []*Key{ka, kb}, nil, nil)
	both := mustEnvelopeKeys(t, []*Key{ka, kb}, []*Provider{pa, pb})
	mustOpen(t, msg, both, nil, pt)

	errA, errB := &kmsError{code: 1, tag: " from A"}, &kmsError{code: 2, tag: " from B"}
	kmsB.hook = func(ctx context.Context, op, id string, in, ad []byte) error {
		if op == "wrap" || op == "unwrap" {
			return errB
		}
		return nil
	}
	_, err := Seal(pt, []*Key{ka, kb}, nil, nil)
	var ke *kmsError
	if !errors.As(err, &ke) || ke != errB {
		t.Errorf("Seal with host B failing: %v, want B's error", err)
	}
	// A opens even though B fails, whichever is tried first.
	mustOpen(t, msg, both, nil, pt)
	kmsA.hook = func(ctx context.Context, op, id string, in, ad []byte) error {
		if op == "unwrap" {
			return errA
		}
		return nil
	}
	_, err = Open(msg, both, nil)
	// The records are tried in order: the first failure (A's) is the one
	// reported (FORMAT.md 12.1 step 11); B's goes to its late handler.
	if !errors.As(err, &ke) || ke != errA || !errors.Is(err, ErrCallback) {
		t.Errorf("Open with both hosts failing: %v, want A's error", err)
	}
	kmsA.hook, kmsB.hook = nil, nil
	mustOpen(t, msg, both, nil, pt)
	assertNothingPending(t, pa)
	assertNothingPending(t, pb)
}

// f2 is a fixture for tests that need a second, unrelated KEK.
func f2(t *testing.T) *envFixture { return newEnvFixture(t) }

// ------------------------------------------------------------ streams

// chunkyWriter records the size of each Write.
type chunkyWriter struct {
	bytes.Buffer
	writes int
}

func (w *chunkyWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestEnvelopeStreams(t *testing.T) {
	f := newEnvFixture(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 4096, 4097, 50000, 3<<20 + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := randBytes(n)
			var out chunkyWriter
			sw, err := NewSealWriter(&out, []*Key{f.kek, f.xpub}, f.context, &SealOptions{ChunkSize: 4096, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			for rest := pt; len(rest) > 0; {
				k := min(len(rest), 1+rng.IntN(20000))
				if n > 1<<20 && rng.IntN(4) == 0 {
					k = len(rest) // one large write too
				}
				w, err := sw.Write(rest[:k])
				if err != nil || w != k {
					t.Fatalf("Write(%d) = %d, %v", k, w, err)
				}
				rest = rest[k:]
			}
			if err := sw.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := sw.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := sw.Write([]byte("late")); !errors.Is(err, ErrState) {
				t.Errorf("Write after Close: %v, want ErrState", err)
			}
			msg := out.Bytes()
			// The streamed message opens one-shot, streamed in odd pieces,
			// and with the X25519 key.
			mustOpen(t, msg, f.keys, &OpenOptions{ExpectedContext: f.context}, pt)
			for name, r := range map[string]io.Reader{
				"one byte": iotest.OneByteReader(bytes.NewReader(msg)),
				"half":     iotest.HalfReader(bytes.NewReader(msg)),
				"data+EOF": iotest.DataErrReader(bytes.NewReader(msg)),
			} {
				if name == "one byte" && n > 100000 {
					continue
				}
				or, err := NewOpenReader(r, f.keys, &OpenOptions{ExpectedContext: f.context})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(or)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("OpenReader(%s): %d bytes, %v", name, len(got), err)
				}
				or.Close()
			}
			// A one-shot message opens streamed too.
			one := mustSeal(t, pt, []*Key{f.kek}, nil, nil)
			or, err := NewOpenReader(bytes.NewReader(one), f.keys, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer or.Close()
			if err := iotest.TestReader(or, pt); err != nil {
				t.Fatalf("iotest.TestReader: %v", err)
			}
		})
	}
}

func TestEnvelopeStreamErrors(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(5*4096 + 100)
	msg := mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})
	hl, _ := HeaderLen(msg)

	read := func(data []byte, keys *EnvelopeKeys, opts *OpenOptions) ([]byte, error) {
		or, err := NewOpenReader(bytes.NewReader(data), keys, opts)
		if err != nil {
			return nil, err
		}
		defer or.Close()
		return io.ReadAll(or)
	}
	// Cut at a chunk boundary: the chunks before come out, then the error.
	got, err := read(msg[:hl+2*4112], f.keys, nil)
	wantStatus(t, "OpenReader, truncated", err, StatusEnvelopeTruncated)
	if !bytes.Equal(got, pt[:len(got)]) {
		t.Error("provisional plaintext differs")
	}
	full := mustSeal(t, pt[:3*4096], []*Key{f.kek}, nil, &SealOptions{ChunkSize: 4096})
	for _, extra := range []int{1, 2, 16, 100} {
		if _, err := read(append(bytes.Clone(full), make([]byte, extra)...), f.keys, nil); !errors.Is(err, StatusEnvelopeTrailingData) {
			t.Errorf("OpenReader, %d bytes of trailing data: %v, want StatusEnvelopeTrailingData", extra, err)
		}
	}
	bad := bytes.Clone(msg)
	bad[hl+4112*3+5] ^= 1
	got, err = read(bad, f.keys, nil)
	wantStatus(t, "OpenReader, a flipped byte in chunk 3", err, StatusAuth)
	if len(got) > 3*4096 {
		t.Errorf("OpenReader released %d bytes, past the bad chunk", len(got))
	}
	_, err = read(msg, mustEnvelopeKeys(t, []*Key{f.other}, nil), nil)
	wantStatus(t, "OpenReader, wrong key", err, StatusEnvelopeNoRecipient)
	_, err = read(msg, f.keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "other"}})
	wantStatus(t, "OpenReader, wrong context", err, StatusEnvelopeContextMismatch)

	// The underlying reader's own error passes through unchanged.
	boom := errors.New("disk on fire")
	or, err := NewOpenReader(io.MultiReader(bytes.NewReader(msg[:hl+100]), iotest.ErrReader(boom)), f.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(or); err != boom {
		t.Errorf("reader error: %v, want %v", err, boom)
	}
	or.Close()
	if _, err := or.Read(make([]byte, 10)); !errors.Is(err, ErrState) {
		t.Errorf("Read after Close: %v", err)
	}

	// A failing writer stops the SealWriter, stickily.
	sw, err := NewSealWriter(errWriter{boom}, []*Key{f.kek}, nil, &SealOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 10 && werr == nil; i++ {
		_, werr = sw.Write(make([]byte, 4096))
	}
	if werr != boom {
		t.Errorf("Write: %v, want %v", werr, boom)
	}
	if err := sw.Close(); err != boom {
		t.Errorf("Close after a failed write: %v", err)
	}
	if _, err := NewSealWriter(&bytes.Buffer{}, []*Key{f.kek}, nil, &SealOptions{ChunkSize: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewSealWriter with chunk size 1: %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// ------------------------------------------------------------ sizes

func TestEnvelopeSizesMatchFormat(t *testing.T) {
	f := newEnvFixture(t)
	msg := mustSeal(t, nil, []*Key{f.kek}, nil, nil)
	hl, err := HeaderLen(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) != hl+16 {
		t.Errorf("empty message: %d bytes, want header %d + 16", len(msg), hl)
	}
	// The prefix: "AIOE", version 1, type 'M'.
	if string(msg[:4]) != "AIOE" || msg[4] != 1 || msg[5] != 'M' {
		t.Errorf("prefix % x", msg[:10])
	}
	if suite := binary.BigEndian.Uint16(msg[6:8]); suite != 1 && suite != 2 {
		t.Errorf("suite %d", suite)
	}
}

func ExampleSeal() {
	dir, _ := os.MkdirTemp("", "aios-example")
	defer os.RemoveAll(dir)
	kr, _ := CreateKeyring(filepath.Join(dir, "keys"), KeyringOptions{MasterKey: bytes.Repeat([]byte{1}, 32)})
	defer kr.Close()
	kek, _ := kr.Add("kek", KeyAES256, KeySpec{})
	defer kek.Close()

	msg, err := Seal([]byte("quarterly numbers"), []*Key{kek}, map[string]string{"tenant": "acme"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := Peek(msg) // readable without a key, not yet authenticated
	fmt.Println(info.Type, info.Context["tenant"], info.Recipients[0].KeyID)

	keys, _ := NewEnvelopeKeys([]*Key{kek}, nil)
	defer keys.Close()
	pt, err := Open(msg, keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "acme"}})
	fmt.Println(string(pt), err)
	_, err = Open(msg, keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "other"}})
	fmt.Println(errors.Is(err, ErrAuth), errors.Is(err, StatusEnvelopeContextMismatch))
	// Output:
	// message acme kek
	// quarterly numbers <nil>
	// true true
}

// SealTo writes into the caller's slice, asks for the length first, and
// writes nothing into a slice that is too short.
func TestEnvelopeSealTo(t *testing.T) {
	f := newEnvFixture(t)
	for _, n := range []int{0, 1, 64, 4097, 70000} {
		pt := randBytes(n)
		opts := &SealOptions{ChunkSize: 4096}
		need, err := SealTo(nil, pt, []*Key{f.kek}, f.context, opts)
		wantStatus(t, "SealTo(nil)", err, StatusBufferTooSmall)
		if need <= n {
			t.Fatalf("SealTo(nil) needs %d bytes for %d of plaintext", need, n)
		}
		short := bytes.Repeat([]byte{0xaa}, need-1)
		got, err := SealTo(short, pt, []*Key{f.kek}, f.context, opts)
		wantStatus(t, "SealTo(short)", err, StatusBufferTooSmall)
		if got != need || !bytes.Equal(short, bytes.Repeat([]byte{0xaa}, need-1)) {
			t.Fatalf("SealTo(short) = %d (want %d), or it wrote", got, need)
		}
		for _, room := range []int{need, need + 100} {
			dst := make([]byte, room)
			got, err := SealTo(dst, pt, []*Key{f.kek}, f.context, opts)
			if err != nil || got != need {
				t.Fatalf("SealTo(%d bytes) = %d, %v; want %d", room, got, err, need)
			}
			mustOpen(t, dst[:got], f.keys, &OpenOptions{ExpectedContext: f.context}, pt)
		}
	}
	if _, err := SealTo(make([]byte, 1024), []byte("x"), nil, nil, nil); err == nil {
		t.Fatal("SealTo without recipients succeeded")
	}
}
