package aios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/libaios/libaios/bindings/go/internal/dlsym"
)

func TestMain(m *testing.M) {
	// The allocator tests need a process in which libaios has not been
	// initialised yet: TestSetAllocatorSubprocess re-runs this binary with
	// allocatorChildEnv set, and that child runs allocatorChild instead of
	// the tests.
	if os.Getenv(allocatorChildEnv) == "1" {
		os.Exit(allocatorChild())
	}
	os.Exit(m.Run())
}

func TestInit(t *testing.T) {
	for i := 0; i < 3; i++ { // idempotent
		if err := Init(); err != nil {
			t.Fatalf("Init #%d: %v", i, err)
		}
	}
}

func TestVersionConsistency(t *testing.T) {
	s := VersionString()
	m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("VersionString() = %q, want MAJOR.MINOR.PATCH", s)
	}
	var parts [3]uint32
	for i := range parts {
		v, err := strconv.ParseUint(m[i+1], 10, 8)
		if err != nil {
			t.Fatalf("VersionString() = %q: part %d does not fit a byte: %v", s, i, err)
		}
		parts[i] = uint32(v)
	}
	want := parts[0]<<16 | parts[1]<<8 | parts[2]
	if got := VersionNumber(); got != want {
		t.Errorf("VersionNumber() = %#06x, VersionString() = %q encodes %#06x", got, s, want)
	}
	if HeaderVersionNumber != VersionNumber() || HeaderVersionString != s {
		t.Errorf("headers are %s (%#06x), library is %s (%#06x)",
			HeaderVersionString, HeaderVersionNumber, s, VersionNumber())
	}
}

func TestAbiVersion(t *testing.T) {
	abi := AbiVersion()
	if abi != HeaderAbiVersion {
		t.Errorf("AbiVersion() = %d, headers say %d", abi, HeaderAbiVersion)
	}
	if abi != 1 {
		t.Errorf("AbiVersion() = %d, want 1", abi)
	}
	b, err := BuildInfo()
	if err != nil {
		t.Fatal(err)
	}
	if uint32(b.ABI) != abi {
		t.Errorf("BuildInfo().ABI = %d, AbiVersion() = %d", b.ABI, abi)
	}
	// The library loaded is libaios.so.<ABI>.
	soname := "libaios.so." + strconv.FormatUint(uint64(abi), 10)
	if _, object, err := dlsym.Lookup(soname, "aios_abi_version"); err != nil {
		t.Errorf("aios_abi_version is not in %s: %v", soname, err)
	} else if !strings.HasPrefix(filepath.Base(object), "libaios.so") {
		t.Errorf("aios_abi_version resolves in %s", object)
	}
}

func TestBuildInfo(t *testing.T) {
	raw := BuildInfoJSON()
	if !json.Valid([]byte(raw)) {
		t.Fatalf("aios_build_info() is not JSON: %s", raw)
	}
	b, err := BuildInfo()
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != VersionString() {
		t.Errorf("BuildInfo().Version = %q, VersionString() = %q", b.Version, VersionString())
	}
	if b.ABI != 1 {
		t.Errorf("BuildInfo().ABI = %d, want 1", b.ABI)
	}
	for _, dep := range []string{"libsodium", "mbedtls", "protobuf-c"} {
		if !regexp.MustCompile(`^\d+\.\d+`).MatchString(b.Dependencies[dep]) {
			t.Errorf("BuildInfo().Dependencies[%q] = %q, want a version", dep, b.Dependencies[dep])
		}
	}
	if _, ok := b.CPU["aesni"]; !ok && runtime.GOARCH == "amd64" {
		t.Errorf("BuildInfo().CPU lacks aesni: %v", b.CPU)
	}
	if b.Config.Compiler == "" {
		t.Errorf("BuildInfo().Config.Compiler is empty")
	}
	if !bytes.Equal(b.Raw, []byte(raw)) {
		t.Errorf("BuildInfo().Raw = %s, want %s", b.Raw, raw)
	}
}

func TestSelftest(t *testing.T) {
	results, err := Selftest()
	if err != nil {
		t.Fatalf("Selftest: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("Selftest ran no tests")
	}
	seen := map[string]bool{}
	for _, r := range results {
		if r.Name == "" {
			t.Errorf("a self-test has no name: %+v", r)
		}
		if seen[r.Name] {
			t.Errorf("self-test %q reported twice", r.Name)
		}
		seen[r.Name] = true
		if !r.Passed() || r.Status != StatusOK {
			t.Errorf("self-test %q: %v", r.Name, r.Status)
		}
	}
	t.Logf("%d self-tests passed: %v", len(results), results)
	// Same tests, same order, every time.
	again, err := Selftest()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again) != fmt.Sprint(results) {
		t.Errorf("second run %v differs from first %v", again, results)
	}
}

type hostError struct{ code int }

func (e *hostError) Error() string { return "host error " + strconv.Itoa(e.code) }

// selftestNames returns the names of the self-tests, in order.
func selftestNames(t *testing.T) []string {
	t.Helper()
	results, err := Selftest()
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 3 {
		t.Fatalf("only %d self-tests", len(results))
	}
	names := make([]string, len(results))
	for i, r := range results {
		names[i] = r.Name
	}
	return names
}

// A callback error stops the run in the library (AIOS_E_CALLBACK) and
// comes back unchanged, whichever test it stops at.
func TestCallbackErrorPassesThrough(t *testing.T) {
	names := selftestNames(t)
	for _, stopAt := range []int{0, 2, len(names) - 1} {
		t.Run(names[stopAt], func(t *testing.T) {
			want := &hostError{code: 42}
			var seen []string
			err := SelftestFunc(func(r SelftestResult) error {
				seen = append(seen, r.Name)
				if len(seen) == stopAt+1 {
					return fmt.Errorf("stop at %s: %w", r.Name, want)
				}
				return nil
			})
			if strings.Join(seen, ",") != strings.Join(names[:stopAt+1], ",") {
				t.Errorf("callback saw %v, want the run to stop after %v", seen, names[:stopAt+1])
			}
			if err == nil {
				t.Fatal("SelftestFunc returned nil after the callback failed")
			}
			var he *hostError
			if !errors.As(err, &he) || he != want {
				t.Errorf("errors.As(%v, *hostError) did not reach the host's error", err)
			}
			if !errors.Is(err, want) {
				t.Errorf("errors.Is(%v, host error) = false", err)
			}
			if !errors.Is(err, ErrCallback) || !errors.Is(err, StatusCallback) || errors.Is(err, StatusCancelled) {
				t.Errorf("errors.Is(%v, ErrCallback/StatusCallback) = false, or it matches StatusCancelled", err)
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Status != StatusCallback || ae.Kind != KindCallback || ae.Name != "AIOS_E_CALLBACK" {
				t.Fatalf("err = %#v, want an *Error with AIOS_E_CALLBACK", err)
			}
			if !strings.Contains(ae.Message, "aios_selftest") || !strings.Contains(ae.Message, "callback") {
				t.Errorf("Message = %q, want the library's description", ae.Message)
			}
			if !strings.Contains(err.Error(), "host error 42") || !strings.Contains(err.Error(), names[stopAt]) {
				t.Errorf("Error() = %q does not show the host's error", err.Error())
			}
			if u := errors.Unwrap(err); u == nil || !strings.HasPrefix(u.Error(), "stop at") {
				t.Errorf("Unwrap() = %v, want the callback's own error", u)
			}
		})
	}
	// The library works normally afterwards.
	if _, err := Selftest(); err != nil {
		t.Errorf("Selftest after a failed callback: %v", err)
	}
}

// Returning StatusCancelled stops the run cleanly with AIOS_E_CANCELLED.
func TestCallbackCancel(t *testing.T) {
	names := selftestNames(t)
	for _, stopAt := range []int{0, 1, len(names) - 1} {
		calls := 0
		err := SelftestFunc(func(SelftestResult) error {
			calls++
			if calls == stopAt+1 {
				return StatusCancelled
			}
			return nil
		})
		if calls != stopAt+1 {
			t.Errorf("stop at %d: callback called %d times, want %d", stopAt, calls, stopAt+1)
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != StatusCancelled || ae.Name != "AIOS_E_CANCELLED" || ae.Kind != KindCallback {
			t.Fatalf("stop at %d: err = %#v, want an *Error with AIOS_E_CANCELLED", stopAt, err)
		}
		if !errors.Is(err, StatusCancelled) || !errors.Is(err, ErrCallback) || errors.Is(err, StatusCallback) {
			t.Errorf("stop at %d: errors.Is(%v, StatusCancelled/ErrCallback) = false, or it matches StatusCallback", stopAt, err)
		}
		if errors.Unwrap(err) != nil {
			t.Errorf("stop at %d: Unwrap() = %v, want nil for a bare StatusCancelled", stopAt, errors.Unwrap(err))
		}
		if !strings.Contains(ae.Message, "stopped") {
			t.Errorf("stop at %d: Message = %q, want the library's description", stopAt, ae.Message)
		}
	}

	// A wrapped StatusCancelled cancels too, and its context comes along.
	why := fmt.Errorf("user pressed ^C: %w", StatusCancelled)
	calls := 0
	err := SelftestFunc(func(SelftestResult) error { calls++; return why })
	if calls != 1 {
		t.Errorf("callback called %d times after cancelling, want 1", calls)
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != StatusCancelled {
		t.Fatalf("err = %v, want AIOS_E_CANCELLED", err)
	}
	if errors.Unwrap(err) != why || !errors.Is(err, why) || !strings.Contains(err.Error(), "user pressed ^C") {
		t.Errorf("err = %v does not carry the callback's error", err)
	}

	if _, err := Selftest(); err != nil {
		t.Errorf("Selftest after a cancelled run: %v", err)
	}
}

func TestCallbackPanicIsRepanicked(t *testing.T) {
	type token struct{ s string }
	want := &token{"boom"}
	calls := 0
	got := func() (r any) {
		defer func() { r = recover() }()
		_ = SelftestFunc(func(SelftestResult) error { calls++; panic(want) })
		return nil
	}()
	if got != want {
		t.Fatalf("recovered %v, want the callback's own panic value %v", got, want)
	}
	if calls != 1 {
		t.Errorf("callback called %d times after panicking, want 1 (the run stops)", calls)
	}
	if _, err := Selftest(); err != nil {
		t.Errorf("Selftest after a panicking callback: %v", err)
	}
}

func TestSelftestFuncNil(t *testing.T) {
	if err := SelftestFunc(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SelftestFunc(nil) = %v, want ErrInvalid", err)
	}
}

var kindSentinels = map[Kind]error{
	KindInvalid: ErrInvalid, KindAuth: ErrAuth, KindNotFound: ErrNotFound,
	KindDenied: ErrDenied, KindIO: ErrIO, KindLimit: ErrLimit, KindState: ErrState,
	KindResource: ErrResource, KindCallback: ErrCallback, KindInternal: ErrInternal,
}

// The stable numbers of core.h, their names and kinds: the core and
// envelope blocks (the key block is checked in key_test.go).
var statusTable = []struct {
	status Status
	number int
	name   string
	kind   Kind
}{
	{StatusOK, 0, "AIOS_OK", KindNone},
	{StatusInvalidArgument, -1, "AIOS_E_INVALID_ARGUMENT", KindInvalid},
	{StatusNoMem, -2, "AIOS_E_NOMEM", KindResource},
	{StatusBufferTooSmall, -3, "AIOS_E_BUFFER_TOO_SMALL", KindInvalid},
	{StatusState, -4, "AIOS_E_STATE", KindState},
	{StatusUnsupported, -5, "AIOS_E_UNSUPPORTED", KindInvalid},
	{StatusFormat, -6, "AIOS_E_FORMAT", KindInvalid},
	{StatusVersion, -7, "AIOS_E_VERSION", KindInvalid},
	{StatusAuth, -8, "AIOS_E_AUTH", KindAuth},
	{StatusNotFound, -9, "AIOS_E_NOT_FOUND", KindNotFound},
	{StatusDenied, -10, "AIOS_E_DENIED", KindDenied},
	{StatusIO, -11, "AIOS_E_IO", KindIO},
	{StatusLimit, -12, "AIOS_E_LIMIT", KindLimit},
	{StatusCallback, -13, "AIOS_E_CALLBACK", KindCallback},
	{StatusCancelled, -14, "AIOS_E_CANCELLED", KindCallback},
	{StatusInternal, -15, "AIOS_E_INTERNAL", KindInternal},
	{StatusSelftest, -16, "AIOS_E_SELFTEST", KindInternal},
	// envelope (-200..-299; docs/FORMAT.md section 12.4)
	{StatusEnvelopeNoRecipient, -200, "AIOS_E_ENVELOPE_NO_RECIPIENT", KindNotFound},
	{StatusEnvelopeCommitment, -201, "AIOS_E_ENVELOPE_COMMITMENT", KindAuth},
	{StatusEnvelopeContextMismatch, -202, "AIOS_E_ENVELOPE_CONTEXT_MISMATCH", KindAuth},
	{StatusEnvelopeTruncated, -203, "AIOS_E_ENVELOPE_TRUNCATED", KindAuth},
	{StatusEnvelopeTrailingData, -204, "AIOS_E_ENVELOPE_TRAILING_DATA", KindInvalid},
	{StatusEnvelopeUnknownSession, -205, "AIOS_E_ENVELOPE_UNKNOWN_SESSION", KindNotFound},
	{StatusEnvelopeMode, -206, "AIOS_E_ENVELOPE_MODE", KindInvalid},
	{StatusManifestMismatch, -300, "AIOS_E_MANIFEST_MISMATCH", KindAuth},
	{StatusManifestKeyMismatch, -301, "AIOS_E_MANIFEST_KEY_MISMATCH", KindAuth},
	{StatusManifestChain, -302, "AIOS_E_MANIFEST_CHAIN", KindAuth},
	{StatusManifestCertUsage, -303, "AIOS_E_MANIFEST_CERT_USAGE", KindAuth},
	{StatusManifestRootDigest, -304, "AIOS_E_MANIFEST_ROOT_DIGEST", KindAuth},
	{StatusManifestPredicate, -305, "AIOS_E_MANIFEST_PREDICATE", KindInvalid},
	{StatusManifestPath, -306, "AIOS_E_MANIFEST_PATH", KindInvalid},
	{StatusManifestDuplicate, -307, "AIOS_E_MANIFEST_DUPLICATE", KindInvalid},
	{StatusManifestSignatures, -308, "AIOS_E_MANIFEST_SIGNATURES", KindInvalid},
	{StatusManifestSymlink, -309, "AIOS_E_MANIFEST_SYMLINK", KindInvalid},
	{StatusManifestSpecialFile, -310, "AIOS_E_MANIFEST_SPECIAL_FILE", KindInvalid},
	{StatusManifestNotSigned, -311, "AIOS_E_MANIFEST_NOT_SIGNED", KindNotFound},
	{StatusManifestUnverified, -312, "AIOS_E_MANIFEST_UNVERIFIED", KindState},
	{StatusManifestChanged, -313, "AIOS_E_MANIFEST_CHANGED", KindIO},
	{StatusManifestEmpty, -314, "AIOS_E_MANIFEST_EMPTY", KindInvalid},
	{StatusManifestMethod, -315, "AIOS_E_MANIFEST_METHOD", KindInvalid},
}

func TestStatusTable(t *testing.T) {
	for _, c := range statusTable {
		if int(c.status) != c.number {
			t.Errorf("%s = %d, want the stable number %d", c.name, c.status, c.number)
		}
		if got := StatusName(c.status); got != c.name || c.status.String() != c.name || c.status.Name() != c.name {
			t.Errorf("StatusName(%d) = %q, want %q", c.number, got, c.name)
		}
		if got := StatusKind(c.status); got != c.kind || c.status.Kind() != c.kind {
			t.Errorf("StatusKind(%s) = %v, want %v", c.name, got, c.kind)
		}
		if s := StatusString(c.status); s == "" || s == "unknown status" {
			t.Errorf("StatusString(%s) = %q", c.name, s)
		}
		if !strings.Contains(c.status.Error(), c.name) {
			t.Errorf("%s.Error() = %q", c.name, c.status.Error())
		}
	}
	if got := fmt.Sprintf("%v %s", StatusAuth, StatusOK); got != "AIOS_E_AUTH AIOS_OK" {
		t.Errorf("Status prints as %q", got)
	}
	if got := StatusString(StatusAuth); got != "authentication failed" {
		t.Errorf("StatusString(StatusAuth) = %q", got)
	}
	unknown := Status(-99)
	if StatusName(unknown) != "AIOS_E_UNKNOWN" || StatusString(unknown) != "unknown status" ||
		StatusKind(unknown) != KindInternal {
		t.Errorf("unknown status: %q %q %v", StatusName(unknown), StatusString(unknown), StatusKind(unknown))
	}
}

func TestKindNames(t *testing.T) {
	want := map[Kind]string{
		KindNone: "none", KindInvalid: "invalid", KindAuth: "auth", KindNotFound: "not_found",
		KindDenied: "denied", KindIO: "io", KindLimit: "limit", KindState: "state",
		KindResource: "resource", KindCallback: "callback", KindInternal: "internal",
	}
	for k, name := range want {
		if got := ErrorKindName(k); got != name || k.String() != name {
			t.Errorf("ErrorKindName(%d) = %q, want %q", int(k), got, name)
		}
	}
	if got := ErrorKindName(Kind(99)); got != "unknown" {
		t.Errorf("ErrorKindName(99) = %q, want unknown", got)
	}
	if len(kindSentinels) != len(want)-1 {
		t.Errorf("%d sentinels for %d failure kinds", len(kindSentinels), len(want)-1)
	}
	for k, sentinel := range kindSentinels {
		if k.Sentinel() != sentinel {
			t.Errorf("%v.Sentinel() = %v, want %v", k, k.Sentinel(), sentinel)
		}
		if !strings.Contains(sentinel.Error(), k.String()) {
			t.Errorf("%v sentinel says %q", k, sentinel.Error())
		}
	}
	if KindNone.Sentinel() != nil {
		t.Error("KindNone.Sentinel() is not nil")
	}
	if fmt.Sprint(KindNotFound) != "not_found" {
		t.Errorf("fmt.Sprint(KindNotFound) = %q", fmt.Sprint(KindNotFound))
	}
}

// Every status maps to exactly one sentinel and to its own Status.
func TestErrorsIsEveryStatus(t *testing.T) {
	for _, c := range statusTable {
		if c.status == StatusOK {
			continue
		}
		err := error(newError(c.status, "test"))
		for k, sentinel := range kindSentinels {
			if got := errors.Is(err, sentinel); got != (k == c.kind) {
				t.Errorf("errors.Is(%s, %v) = %v", c.name, sentinel, got)
			}
		}
		for _, o := range statusTable {
			if got := errors.Is(err, o.status); got != (o.status == c.status) {
				t.Errorf("errors.Is(%s, %s) = %v", c.name, o.name, got)
			}
		}
		wrapped := fmt.Errorf("context: %w", err)
		if !errors.Is(wrapped, kindSentinels[c.kind]) || !errors.Is(wrapped, c.status) {
			t.Errorf("errors.Is through fmt.Errorf(%%w) fails for %s", c.name)
		}
		var ae *Error
		if !errors.As(wrapped, &ae) || ae.Name != c.name || ae.Kind != c.kind || ae.Message != "test" {
			t.Errorf("errors.As(%s) = %+v", c.name, ae)
		}
	}
}

// Errors that come from C carry the status, name, kind and message the
// library recorded on the failing thread.
func TestErrorFromC(t *testing.T) {
	b, err := NewBuffer(8, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Protect(ProtectReadOnly)
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("Protect on a plain buffer = %v, want *Error", err)
	}
	if ae.Status != StatusUnsupported || ae.Name != "AIOS_E_UNSUPPORTED" || ae.Kind != KindInvalid {
		t.Errorf("got %s/%s/%v, want AIOS_E_UNSUPPORTED/invalid", ae.Status, ae.Name, ae.Kind)
	}
	if !strings.Contains(ae.Message, "aios_buffer_protect") || !strings.Contains(ae.Message, "secure") {
		t.Errorf("Message = %q, want the library's description", ae.Message)
	}
	if got := err.Error(); got != "aios: "+ae.Message+" (AIOS_E_UNSUPPORTED)" {
		t.Errorf("Error() = %q", got)
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("Unwrap() = %v, want nil without a host error", errors.Unwrap(err))
	}
}

// LastError* read the calling thread's record: meaningful only with the
// goroutine locked to its thread.
func TestLastErrorOnLockedThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	ErrorClear()
	if LastErrorStatus() != StatusOK || LastErrorMessage() != "" {
		t.Fatalf("after ErrorClear: %v %q", LastErrorStatus(), LastErrorMessage())
	}
	_, err := NewBuffer(BufferMaxLen+7, false)
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("NewBuffer(BufferMaxLen+7) = %v", err)
	}
	if LastErrorStatus() != StatusLimit || LastErrorMessage() != ae.Message {
		t.Errorf("LastError = %v %q, want %v %q", LastErrorStatus(), LastErrorMessage(), ae.Status, ae.Message)
	}
	// Calls that cannot fail leave the record alone.
	_ = StatusName(StatusAuth)
	if LastErrorStatus() != StatusLimit {
		t.Errorf("LastErrorStatus() = %v after StatusName, want it unchanged", LastErrorStatus())
	}
	ErrorClear()
	if LastErrorStatus() != StatusOK || LastErrorMessage() != "" {
		t.Errorf("after ErrorClear: %v %q", LastErrorStatus(), LastErrorMessage())
	}
}

func TestSetError(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer ErrorClear()

	if got := SetError(StatusAuth, "the host said no"); got != StatusAuth {
		t.Errorf("SetError(StatusAuth) = %v", got)
	}
	if LastErrorStatus() != StatusAuth || LastErrorMessage() != "the host said no" {
		t.Errorf("after SetError: %v %q", LastErrorStatus(), LastErrorMessage())
	}
	// Not a failure: recorded as StatusCallback. No message: the status's
	// description.
	if got := SetError(StatusOK, ""); got != StatusCallback {
		t.Errorf("SetError(StatusOK) = %v, want StatusCallback", got)
	}
	if LastErrorStatus() != StatusCallback || LastErrorMessage() != StatusString(StatusCallback) {
		t.Errorf("after SetError(StatusOK, \"\"): %v %q", LastErrorStatus(), LastErrorMessage())
	}
	// libaios keeps 511 bytes and marks the cut.
	SetError(StatusIO, strings.Repeat("é", 400))
	if m := LastErrorMessage(); len(m) > 511 || !strings.HasSuffix(m, "...") || !utf8.ValidString(m) {
		t.Errorf("a long message was kept as %d bytes ending %q", len(m), m[len(m)-8:])
	}
}

func TestConstantTimeEqual(t *testing.T) {
	a := bytes.Repeat([]byte{0xa5}, 64)
	cases := []struct {
		name string
		a, b []byte
		want bool
	}{
		{"equal", a, bytes.Clone(a), true},
		{"same slice", a, a, true},
		{"last byte differs", a, append(bytes.Clone(a[:63]), 0xa4), false},
		{"first byte differs", a, append([]byte{0}, a[1:]...), false},
		{"shorter", a, a[:63], false},
		{"longer", a[:1], a[:2], false},
		{"both empty", []byte{}, []byte{}, true},
		{"nil and empty", nil, []byte{}, true},
		{"empty and one byte", nil, []byte{0}, false},
	}
	for _, c := range cases {
		if got := ConstantTimeEqual(c.a, c.b); got != c.want {
			t.Errorf("%s: ConstantTimeEqual = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestWipe(t *testing.T) {
	b := []byte("a secret passphrase")
	Wipe(b[2:8])
	if want := append(append([]byte("a "), make([]byte, 6)...), " passphrase"...); !bytes.Equal(b, want) {
		t.Errorf("Wipe(b[2:8]) left %q, want %q", b, want)
	}
	Wipe(b)
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Errorf("Wipe(b) left %q", b)
	}
	Wipe(nil)      // no-op
	Wipe([]byte{}) // no-op
}
