package aios

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeKMS is a KMS in Go: AES-GCM keys that wrap, Ed25519 keys that sign.
// hook, when set, runs first in every method and may fail, sleep or panic.
type fakeKMS struct {
	aes  map[string][]byte
	ed   map[string]ed25519.PrivateKey
	hook func(ctx context.Context, op, id string, in, ad []byte) error

	wrapPad int         // bytes appended to each wrapped key
	badSig  atomic.Bool // Sign returns a signature that does not verify

	calls sync.Map // op -> *atomic.Int64
	late  chan error
}

func newFakeKMS() *fakeKMS {
	f := &fakeKMS{aes: map[string][]byte{}, ed: map[string]ed25519.PrivateKey{}, late: make(chan error, 16)}
	f.aes["wrap-key"] = bytes.Repeat([]byte{0x42}, 32)
	f.aes["other-key"] = bytes.Repeat([]byte{0x43}, 32)
	_, f.ed["sign-key"], _ = ed25519.GenerateKey(rand.Reader)
	return f
}

func (f *fakeKMS) count(op string) int64 {
	v, _ := f.calls.LoadOrStore(op, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func (f *fakeKMS) enter(ctx context.Context, op, id string, in, ad []byte) error {
	v, _ := f.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("fake kms: no deadline in ctx")
	}
	if f.hook != nil {
		return f.hook(ctx, op, id, in, ad)
	}
	return nil
}

func (f *fakeKMS) Describe(ctx context.Context, id string, version uint32) (ProviderKeyInfo, error) {
	if err := f.enter(ctx, "describe", id, nil, nil); err != nil {
		return ProviderKeyInfo{}, err
	}
	if version > 1 {
		return ProviderKeyInfo{}, fmt.Errorf("fake kms: key %q has no version %d: %w", id, version, StatusKeyVersionNotFound)
	}
	created := time.Unix(1700000000, 0)
	if _, ok := f.aes[id]; ok {
		return ProviderKeyInfo{Version: 1, Type: KeyAES256, CreatedAt: created}, nil
	}
	if _, ok := f.ed[id]; ok {
		// Version 0 means the version asked for, when one was.
		v := uint32(0)
		if version == 0 {
			v = 1
		}
		return ProviderKeyInfo{Version: v, Type: KeyEd25519, Purposes: KeyUseSign | KeyUseVerify, CreatedAt: created}, nil
	}
	if id == "bad-type" {
		return ProviderKeyInfo{Version: 1, Type: KeyType(77)}, nil
	}
	return ProviderKeyInfo{}, fmt.Errorf("fake kms: no key %q: %w", id, StatusKeyNotFound)
}

func (f *fakeKMS) gcm(id string) (cipher.AEAD, error) {
	k, ok := f.aes[id]
	if !ok {
		return nil, fmt.Errorf("fake kms: no AES key %q", id)
	}
	b, _ := aes.NewCipher(k)
	return cipher.NewGCM(b)
}

func (f *fakeKMS) Wrap(ctx context.Context, id string, version uint32, dataKey, ad []byte) ([]byte, error) {
	if err := f.enter(ctx, "wrap", id, dataKey, ad); err != nil {
		return nil, err
	}
	g, err := f.gcm(id)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	out := g.Seal(nonce, nonce, dataKey, ad)
	return append(out, make([]byte, f.wrapPad)...), nil
}

func (f *fakeKMS) Unwrap(ctx context.Context, id string, version uint32, wrapped, ad []byte) ([]byte, error) {
	if err := f.enter(ctx, "unwrap", id, wrapped, ad); err != nil {
		return nil, err
	}
	g, err := f.gcm(id)
	if err != nil {
		return nil, err
	}
	wrapped = wrapped[:len(wrapped)-f.wrapPad]
	if len(wrapped) < g.NonceSize() {
		return nil, StatusAuth
	}
	dk, err := g.Open(nil, wrapped[:g.NonceSize()], wrapped[g.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("fake kms: %v: %w", err, StatusAuth)
	}
	return dk, nil
}

func (f *fakeKMS) Sign(ctx context.Context, id string, version uint32, msg []byte) ([]byte, error) {
	if err := f.enter(ctx, "sign", id, msg, nil); err != nil {
		return nil, err
	}
	k, ok := f.ed[id]
	if !ok {
		return nil, fmt.Errorf("fake kms: no signing key %q", id)
	}
	sig := ed25519.Sign(k, msg)
	if f.badSig.Load() {
		sig[0] ^= 1
	}
	return sig, nil
}

func (f *fakeKMS) PublicKey(ctx context.Context, id string, version uint32) ([]byte, error) {
	if err := f.enter(ctx, "public_key", id, nil, nil); err != nil {
		return nil, err
	}
	k, ok := f.ed[id]
	if !ok {
		return nil, fmt.Errorf("fake kms: no key pair %q", id)
	}
	return x509.MarshalPKIXPublicKey(k.Public())
}

func (f *fakeKMS) LateFailure(op, keyID string, version uint32, err error) {
	select {
	case f.late <- fmt.Errorf("%s %s v%d: %w", op, keyID, version, err):
	default:
	}
}

// describeOnly can only describe keys.
type describeOnly struct{}

func (describeOnly) Describe(ctx context.Context, id string, version uint32) (ProviderKeyInfo, error) {
	return ProviderKeyInfo{Version: 1, Type: KeyAES256}, nil
}

func newCallbackProvider(t *testing.T, name string, host KMS, timeout time.Duration) *Provider {
	t.Helper()
	p, err := NewCallbackProvider(name, host, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func getKey(t *testing.T, p *Provider, id string) *Key {
	t.Helper()
	k, err := p.GetKey(id, 0)
	if err != nil {
		t.Fatalf("GetKey(%q): %v", id, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestCallbackProviderRoundTrip(t *testing.T) {
	kms := newFakeKMS()
	p := newCallbackProvider(t, "fake", kms, 5*time.Second)
	if p.Name() != "callback:fake" {
		t.Errorf("Name() = %q", p.Name())
	}
	k := getKey(t, p, "wrap-key")
	if k.ID() != "wrap-key" || k.Version() != 1 || k.Type() != KeyAES256 || k.Purposes() != KeyUseWrap ||
		k.State() != KeyActive || k.ProviderName() != "callback:fake" || k.Exportable() ||
		!k.CreatedAt().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("key: %s %v %v %v %q exportable=%v created %v", k, k.Purposes(), k.State(), k.Type(),
			k.ProviderName(), k.Exportable(), k.CreatedAt())
	}
	dk := []byte("0123456789abcdef0123456789abcdef")
	w, err := k.Wrap(dk, []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Unwrap(w, []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Bytes(); !bytes.Equal(got, dk) || !b.Secure() {
		t.Errorf("Unwrap = %q", got)
	}
	b.Close()
	if !bytes.Equal(dk, []byte("0123456789abcdef0123456789abcdef")) {
		t.Error("Wrap changed the caller's data key")
	}
	_, err = k.Export()
	wantStatus(t, "Export of a KMS key", err, StatusKeyNotExportable)
	_, err = k.Sign([]byte("m"))
	wantStatus(t, "Sign with a wrapping key", err, StatusKeyUsage)

	// A signing key: its public key comes from PublicKey, so the library
	// verifies locally.
	s := getKey(t, p, "sign-key")
	if s1, err := p.GetKey("sign-key", 1); err != nil || s1.Version() != 1 {
		t.Errorf("GetKey(sign-key, 1) = %v, %v", s1, err)
	} else {
		s1.Close()
	}
	if s.Type() != KeyEd25519 || s.Version() != 1 {
		t.Errorf("sign-key: %v v%d", s.Type(), s.Version())
	}
	sig, err := s.Sign([]byte("model"))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(kms.ed["sign-key"].Public().(ed25519.PublicKey), []byte("model"), sig) {
		t.Error("the signature is not the KMS's")
	}
	if ok, err := s.Verify(sig, []byte("model")); !ok || err != nil {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	if raw, _ := s.PublicRaw(); !bytes.Equal(raw, kms.ed["sign-key"].Public().(ed25519.PublicKey)) {
		t.Error("PublicRaw differs from the KMS's public key")
	}
	if _, err := s.PublicPEM(); err != nil {
		t.Error(err)
	}
	// A KMS that signs with the wrong key is caught.
	kms.badSig.Store(true)
	_, err = s.Sign([]byte("model"))
	wantStatus(t, "a signature that does not verify", err, StatusCallback)
	kms.badSig.Store(false)

	// Ref shares the Go side.
	r, _ := k.Ref()
	if _, err := r.Wrap(dk, nil); err != nil {
		t.Errorf("Wrap through Ref: %v", err)
	}
	r.Close()
	pr, _ := p.Ref()
	if k2, err := pr.GetKey("wrap-key", 1); err != nil {
		t.Errorf("GetKey through a Provider Ref: %v", err)
	} else {
		k2.Close()
	}
	pr.Close()
}

func TestCallbackProviderCapabilities(t *testing.T) {
	p := newCallbackProvider(t, "describe-only", describeOnly{}, 0)
	k := getKey(t, p, "x")
	_, err := k.Wrap([]byte("data key"), nil)
	wantStatus(t, "Wrap without Wrapper", err, StatusUnsupported)
	_, err = k.Unwrap([]byte("wrapped"), nil)
	wantStatus(t, "Unwrap without Unwrapper", err, StatusUnsupported)

	for _, name := range []string{"", "Upper", "with space", strings.Repeat("a", 49), "nul\x00"} {
		if _, err := NewCallbackProvider(name, describeOnly{}, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewCallbackProvider(%q) = %v", name, err)
		}
	}
	if _, err := NewCallbackProvider("x", nil, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil host: %v", err)
	}
	if _, err := NewCallbackProvider("x", describeOnly{}, -time.Second); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative timeout: %v", err)
	}
}

type kmsError struct {
	code int
	tag  string
}

func (e *kmsError) Error() string { return fmt.Sprintf("kms error %d%s", e.code, e.tag) }

func TestCallbackProviderErrors(t *testing.T) {
	kms := newFakeKMS()
	want := &kmsError{code: 503}
	var failUnwrap atomic.Bool
	kms.hook = func(_ context.Context, op, id string, _, _ []byte) error {
		if op == "unwrap" && failUnwrap.Load() {
			return fmt.Errorf("throttled: %w", want)
		}
		if op == "describe" && id == "flaky" {
			return want
		}
		return nil
	}
	p := newCallbackProvider(t, "errors", kms, 5*time.Second)
	k := getKey(t, p, "wrap-key")
	w, _ := k.Wrap([]byte("data key"), []byte("ad"))

	// A Go error: StatusCallback, and the error itself through Unwrap.
	failUnwrap.Store(true)
	_, err := k.Unwrap(w, []byte("ad"))
	failUnwrap.Store(false)
	wantStatus(t, "host error", err, StatusCallback)
	var ke *kmsError
	if !errors.Is(err, want) || !errors.As(err, &ke) || ke != want || !errors.Is(err, ErrCallback) {
		t.Errorf("the host's error does not come through: %v", err)
	}
	if !strings.Contains(err.Error(), "kms error 503") {
		t.Errorf("Error() = %q", err.Error())
	}

	// A status from the host becomes the library call's status.
	_, err = k.Unwrap(w, []byte("other ad"))
	wantStatus(t, "host StatusAuth", err, StatusAuth)
	var ae *Error
	errors.As(err, &ae)
	if ae.Unwrap() == nil || !strings.Contains(ae.Unwrap().Error(), "fake kms") {
		t.Errorf("the host's wrapped StatusAuth is not attached: %v", ae.Unwrap())
	}
	_, err = k.Unwrap([]byte("short"), []byte("ad")) // the fake returns a bare StatusAuth
	wantStatus(t, "bare StatusAuth", err, StatusAuth)
	if errors.As(err, &ae); ae.Unwrap() != nil {
		t.Errorf("a bare Status is attached as cause: %v", ae.Unwrap())
	}

	// Describe's errors come back from GetKey.
	_, err = p.GetKey("missing", 0)
	wantStatus(t, "GetKey(missing)", err, StatusKeyNotFound)
	if !strings.Contains(err.Error(), "no key \"missing\"") {
		t.Errorf("GetKey(missing) = %v", err)
	}
	_, err = p.GetKey("wrap-key", 7)
	wantStatus(t, "GetKey(version 7)", err, StatusKeyVersionNotFound)
	_, err = p.GetKey("flaky", 0)
	wantStatus(t, "GetKey(flaky)", err, StatusCallback)
	if !errors.Is(err, want) {
		t.Errorf("Describe's error does not come through: %v", err)
	}
	// What the library rejects itself has no Go cause.
	_, err = p.GetKey("bad-type", 0)
	wantStatus(t, "GetKey(bad-type)", err, StatusCallback)
	if errors.As(err, &ae); ae.Unwrap() != nil || !strings.Contains(ae.Message, "type") {
		t.Errorf("GetKey(bad-type) = %v (cause %v)", err, ae.Unwrap())
	}

	// Nothing is left registered.
	assertNothingPending(t, p)
}

// assertNothingPending checks that a callback provider's Go side holds no
// library call and no host failure any more.
func assertNothingPending(t *testing.T, p *Provider) {
	t.Helper()
	s := p.kms
	s.mu.Lock()
	calls, failures := len(s.inflight), len(s.failures)
	s.mu.Unlock()
	if calls != 0 || failures != 0 {
		t.Errorf("%d library calls and %d host failures left registered", calls, failures)
	}
}

func TestCallbackProviderTimeout(t *testing.T) {
	kms := newFakeKMS()
	lateErr := errors.New("late failure")
	var mode atomic.Int32 // 1: sleep then fail; 2: sleep then panic
	kms.hook = func(ctx context.Context, op, id string, _, _ []byte) error {
		if op != "wrap" || mode.Load() == 0 {
			return nil
		}
		dl, _ := ctx.Deadline()
		if left := time.Until(dl); left > 200*time.Millisecond || left <= 0 {
			return fmt.Errorf("deadline %v away, want about 100ms", left)
		}
		time.Sleep(400 * time.Millisecond)
		if mode.Load() == 2 {
			panic("late panic")
		}
		return lateErr
	}
	p := newCallbackProvider(t, "slow", kms, 100*time.Millisecond)
	k := getKey(t, p, "wrap-key")

	mode.Store(1)
	start := time.Now()
	_, err := k.Wrap([]byte("data key"), nil)
	took := time.Since(start)
	wantStatus(t, "Wrap with a sleeping host", err, StatusProviderTimeout)
	if !errors.Is(err, ErrCallback) {
		t.Errorf("timeout is not ErrCallback: %v", err)
	}
	if took < 90*time.Millisecond || took > 350*time.Millisecond {
		t.Errorf("gave up after %v, want about 100ms", took)
	}
	select {
	case got := <-kms.late:
		if !errors.Is(got, lateErr) || !strings.HasPrefix(got.Error(), "wrap wrap-key v1") {
			t.Errorf("LateFailure got %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LateFailure was not called")
	}

	mode.Store(2)
	_, err = k.Wrap([]byte("data key"), nil)
	wantStatus(t, "Wrap with a host that panics late", err, StatusProviderTimeout)
	select {
	case got := <-kms.late:
		var pe *PanicError
		if !errors.As(got, &pe) || pe.Value != "late panic" || len(pe.Stack) == 0 {
			t.Errorf("LateFailure got %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LateFailure was not called for the panic")
	}

	mode.Store(0)
	if _, err := k.Wrap([]byte("data key"), nil); err != nil {
		t.Errorf("the provider does not recover: %v", err)
	}
}

func TestCallbackProviderPanic(t *testing.T) {
	kms := newFakeKMS()
	var boom atomic.Bool
	kms.hook = func(_ context.Context, op, _ string, _, _ []byte) error {
		if boom.Load() && (op == "sign" || op == "describe") {
			panic(fmt.Sprintf("kms exploded in %s", op))
		}
		return nil
	}
	p := newCallbackProvider(t, "panicky", kms, 5*time.Second)
	s := getKey(t, p, "sign-key")

	catch := func(fn func()) (v any) {
		defer func() { v = recover() }()
		fn()
		return nil
	}
	boom.Store(true)
	v := catch(func() { s.Sign([]byte("m")) })
	if v != "kms exploded in sign" {
		t.Errorf("Sign re-panicked with %v", v)
	}
	v = catch(func() { p.GetKey("wrap-key", 0) })
	if v != "kms exploded in describe" {
		t.Errorf("GetKey re-panicked with %v", v)
	}
	boom.Store(false)
	// The handles were not left locked.
	if _, err := s.Sign([]byte("m")); err != nil {
		t.Errorf("Sign after the panic: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// Errors from many concurrent calls reach the call that caused them.
func TestCallbackProviderErrorsConcurrent(t *testing.T) {
	kms := newFakeKMS()
	kms.hook = func(_ context.Context, op, _ string, in, ad []byte) error {
		if op == "wrap" && bytes.HasPrefix(ad, []byte("fail-")) {
			time.Sleep(time.Millisecond)
			return &kmsError{code: int(in[0]), tag: " for " + string(ad)}
		}
		return nil
	}
	p := newCallbackProvider(t, "concurrent", kms, 10*time.Second)
	k := getKey(t, p, "wrap-key")
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				dk := []byte{byte(i), byte(g), 1, 2, 3, 4, 5, 6}
				ad := []byte(fmt.Sprintf("ok-%d-%d", g, i))
				if i%2 == 1 {
					ad = []byte(fmt.Sprintf("fail-%d-%d", g, i))
				}
				w, err := k.Wrap(dk, ad)
				if i%2 == 0 {
					if err != nil {
						t.Errorf("goroutine %d call %d: %v", g, i, err)
						continue
					}
					b, err := k.Unwrap(w, ad)
					if err != nil {
						t.Errorf("goroutine %d call %d: Unwrap: %v", g, i, err)
						continue
					}
					if got, _ := b.Bytes(); !bytes.Equal(got, dk) {
						t.Errorf("goroutine %d: round trip", g)
					}
					b.Close()
					continue
				}
				var ke *kmsError
				if !errors.As(err, &ke) || ke.code != i || ke.tag != " for "+string(ad) {
					t.Errorf("goroutine %d call %d: got %v, want the error for %s", g, i, err, ad)
				}
			}
		}(g)
	}
	wg.Wait()
}

// A host call that reached GetKey's PublicKey, and the error to fail it
// with.
type twinCall struct {
	ctx      context.Context
	deadline time.Time
	reply    chan error
}

// twinGetKeys makes two identical GetKey("sign-key", 0) calls, the second
// started gap after the first one's Describe began (so its deadline is
// later), and holds both Describes until both run, so that both PublicKey
// host calls start after both library calls began. answer gets the
// PublicKey host calls, first's deadline before second's, and must reply
// to both. It returns the two calls' errors.
func twinGetKeys(t *testing.T, kms *fakeKMS, p *Provider, gap time.Duration, answer func(first, second twinCall)) [2]error {
	t.Helper()
	describes := make(chan struct{}, 2)
	release := make(chan struct{})
	pks := make(chan twinCall, 2)
	kms.hook = func(ctx context.Context, op, id string, _, _ []byte) error {
		switch op {
		case "describe":
			describes <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		case "public_key":
			dl, _ := ctx.Deadline()
			c := twinCall{ctx: ctx, deadline: dl, reply: make(chan error)}
			pks <- c
			return <-c.reply
		}
		return nil
	}
	defer func() { kms.hook = nil }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-describes:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the host", what)
		}
	}

	var errs [2]error
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := p.GetKey("sign-key", 0)
			if err == nil {
				k.Close()
			}
			errs[i] = err
		}()
	}
	start(0)
	wait("the first GetKey")
	time.Sleep(gap)
	start(1)
	wait("the second GetKey")
	close(release)
	first, second := <-pks, <-pks
	if second.deadline.Before(first.deadline) {
		first, second = second, first
	}
	answer(first, second)
	wg.Wait()
	return errs
}

// Two identical requests in flight at once, failing with different Go
// errors: each gets its own error back.
func TestCallbackProviderIdenticalRequests(t *testing.T) {
	kms := newFakeKMS()
	p := newCallbackProvider(t, "twins", kms, 10*time.Second)
	for round := 0; round < 10; round++ {
		errA := &kmsError{code: 1, tag: fmt.Sprintf(" (first caller, round %d)", round)}
		errB := &kmsError{code: 2, tag: fmt.Sprintf(" (second caller, round %d)", round)}
		errs := twinGetKeys(t, kms, p, 20*time.Millisecond, func(first, second twinCall) {
			// Both fail at once: the two library calls finish in either order.
			go func() { first.reply <- errA }()
			second.reply <- errB
		})
		for i, want := range []*kmsError{errA, errB} {
			other := errB
			if i == 1 {
				other = errA
			}
			wantStatus(t, fmt.Sprintf("round %d, caller %d", round, i), errs[i], StatusCallback)
			var ke *kmsError
			if !errors.As(errs[i], &ke) || ke != want || errors.Is(errs[i], other) {
				t.Fatalf("round %d: caller %d got %v, want %v", round, i, errs[i], want)
			}
			// The library's message carries the host's text, not the token,
			// and Error() does not repeat it.
			var ae *Error
			errors.As(errs[i], &ae)
			if !strings.HasPrefix(ae.Message, "callback:twins: public_key of key 'sign-key': ") ||
				!strings.HasSuffix(ae.Message, want.Error()) || strings.Contains(ae.Message, "aios-go-err") ||
				strings.Count(errs[i].Error(), want.Error()) != 1 {
				t.Fatalf("round %d: caller %d: Message %q, Error() %q", round, i, ae.Message, errs[i].Error())
			}
		}
	}
	assertNothingPending(t, p)
	select {
	case got := <-kms.late:
		t.Errorf("a collected error went to LateFailure too: %v", got)
	default:
	}
}

// Two identical requests in flight; the first times out and its host
// call fails afterwards, just before the second's: the second gets its
// own error, and the first's goes to LateFailure.
func TestCallbackProviderIdenticalRequestsLate(t *testing.T) {
	kms := newFakeKMS()
	p := newCallbackProvider(t, "twins", kms, 500*time.Millisecond)
	errA := errors.New("the first caller's error")
	errB := errors.New("the second caller's error")
	errs := twinGetKeys(t, kms, p, 250*time.Millisecond, func(first, second twinCall) {
		<-first.ctx.Done()
		time.Sleep(50 * time.Millisecond) // the library has given up on it
		first.reply <- errA
		time.Sleep(20 * time.Millisecond) // the first host call has failed
		second.reply <- errB
	})
	wantStatus(t, "the first caller", errs[0], StatusProviderTimeout)
	if errors.Is(errs[0], errA) || errors.Is(errs[0], errB) {
		t.Errorf("the first caller got a host error after its timeout: %v", errs[0])
	}
	wantStatus(t, "the second caller", errs[1], StatusCallback)
	if !errors.Is(errs[1], errB) || errors.Is(errs[1], errA) {
		t.Errorf("the second caller got %v, want %v", errs[1], errB)
	}
	select {
	case got := <-kms.late:
		if !errors.Is(got, errA) || !strings.HasPrefix(got.Error(), "public_key sign-key v1") {
			t.Errorf("LateFailure got %v, want %v", got, errA)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LateFailure was not called")
	}
	assertNothingPending(t, p)
}

// Many identical requests failing at once: every host error reaches
// exactly one caller, and nothing is left behind.
func TestCallbackProviderIdenticalRequestsConcurrent(t *testing.T) {
	kms := newFakeKMS()
	var next atomic.Int64
	kms.hook = func(_ context.Context, op, _ string, _, _ []byte) error {
		if op == "wrap" {
			n := next.Add(1)
			time.Sleep(time.Duration(n%3) * time.Millisecond)
			return &kmsError{code: int(n)}
		}
		return nil
	}
	p := newCallbackProvider(t, "identical", kms, 10*time.Second)
	k := getKey(t, p, "wrap-key")
	const goroutines, calls = 8, 25
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				_, err := k.Wrap([]byte("the same data key"), []byte("the same ad"))
				var ke *kmsError
				if !errors.As(err, &ke) {
					t.Errorf("Wrap = %v, want a *kmsError", err)
					return
				}
				mu.Lock()
				if seen[ke.code] {
					t.Errorf("host error %d reached two callers", ke.code)
				}
				seen[ke.code] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != goroutines*calls || next.Load() != goroutines*calls {
		t.Errorf("%d distinct errors for %d calls and %d host calls", len(seen), goroutines*calls, next.Load())
	}
	assertNothingPending(t, p)
}

// A long host error and a long key id: the token still comes through,
// and the whole error is in Error().
func TestCallbackProviderLongError(t *testing.T) {
	kms := newFakeKMS()
	longID := strings.Repeat("k", 256)
	want := errors.New("the KMS says: " + strings.Repeat("é", 1000) + " the end")
	kms.hook = func(_ context.Context, op, id string, _, _ []byte) error {
		if op == "describe" && id == longID {
			return want
		}
		return nil
	}
	p := newCallbackProvider(t, strings.Repeat("n", 48), kms, 5*time.Second)
	_, err := p.GetKey(longID, 0)
	wantStatus(t, "GetKey(long id)", err, StatusCallback)
	var ae *Error
	errors.As(err, &ae)
	if !errors.Is(err, want) || len(ae.Message) > 511 || !strings.HasSuffix(ae.Message, "...") ||
		!utf8.ValidString(ae.Message) || strings.Contains(ae.Message, "aios-go-err") ||
		!strings.HasSuffix(err.Error(), ": "+want.Error()) {
		t.Errorf("GetKey(long id) = %v (Message %q)", err, ae.Message)
	}
	assertNothingPending(t, p)
}

func TestCallbackProviderLargeOutput(t *testing.T) {
	kms := newFakeKMS()
	kms.wrapPad = 600 // 28 + 8 + 16 + 600 bytes: over the first buffer of 512
	p := newCallbackProvider(t, "large", kms, 5*time.Second)
	k := getKey(t, p, "wrap-key")
	before := kms.count("wrap")
	w, err := k.Wrap([]byte("data key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 12+8+16+600 {
		t.Errorf("wrapped key of %d bytes", len(w))
	}
	if n := kms.count("wrap") - before; n != 1 {
		t.Errorf("the host's Wrap ran %d times for one call", n)
	}
	if b, err := k.Unwrap(w, nil); err != nil {
		t.Errorf("Unwrap: %v", err)
	} else {
		b.Close()
	}
	p.kms.mu.Lock()
	n := len(p.kms.stash)
	p.kms.mu.Unlock()
	if n != 0 {
		t.Errorf("%d results left in the stash", n)
	}
	kms.wrapPad = KeyWrappedMax
	_, err = k.Wrap([]byte("data key"), nil)
	wantStatus(t, "a wrapped key over KeyWrappedMax", err, StatusCallback)
}

func TestCallbackProviderRelease(t *testing.T) {
	kms := newFakeKMS()
	p, err := NewCallbackProvider("release", kms, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := p.kms
	k, err := p.GetKey("wrap-key", 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if s.released.Load() {
		t.Fatal("released while a key still holds the provider")
	}
	if _, err := k.Wrap([]byte("data key"), nil); err != nil {
		t.Errorf("a key after its provider's Close: %v", err)
	}
	if _, err := p.GetKey("wrap-key", 0); !errors.Is(err, ErrState) {
		t.Errorf("GetKey after Close = %v", err)
	}
	k.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !s.released.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !s.released.Load() {
		t.Fatal("release was never called")
	}
}
