package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"io"
	"os"
	"runtime"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Signed model manifests (include/aios/manifest.h, docs/MANIFEST.md): the
// OpenSSF Model Signing (OMS) format that the model_signing tool writes
// and verifies. SignManifest hashes a model (a directory or one file) and
// signs the statement; VerifyManifestKey and VerifyManifestCertificate
// check a bundle's signature alone and return a verified *Manifest, whose
// VerifyDir, VerifyFile, VerifyRange and OpenStream then check the model's
// bytes.

// ManifestProfile mirrors aios_manifest_profile: what is written, and the
// few places where reading is stricter (MANIFEST.md 14).
type ManifestProfile int32

// The profiles.
const (
	// ManifestProfileModelSigning1 is what the released model_signing 1.x
	// tool accepts (the default).
	ManifestProfileModelSigning1 ManifestProfile = C.AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1
	// ManifestProfileOMS10 is the OMS specification v1.0.
	ManifestProfileOMS10 ManifestProfile = C.AIOS_MANIFEST_PROFILE_OMS_1_0
)

// String returns "model-signing-1" or "oms-1.0".
func (p ManifestProfile) String() string {
	switch p {
	case ManifestProfileModelSigning1:
		return "model-signing-1"
	case ManifestProfileOMS10:
		return "oms-1.0"
	}
	return "ManifestProfile(" + strconv.FormatInt(int64(p), 10) + ")"
}

// ManifestMethod mirrors aios_manifest_method: one digest per file, or one
// per fixed-size shard of every file.
type ManifestMethod int32

// The methods.
const (
	ManifestFiles  ManifestMethod = C.AIOS_MANIFEST_FILES  // one digest per file (the default)
	ManifestShards ManifestMethod = C.AIOS_MANIFEST_SHARDS // one digest per shard "path:start:end"
)

// String returns "files" or "shards".
func (m ManifestMethod) String() string {
	switch m {
	case ManifestFiles:
		return "files"
	case ManifestShards:
		return "shards"
	}
	return "ManifestMethod(" + strconv.FormatInt(int64(m), 10) + ")"
}

// ManifestTimePolicy mirrors aios_manifest_time: the time at which a
// certificate chain must be valid (MANIFEST.md 7.4).
type ManifestTimePolicy int32

// The time policies.
const (
	// ManifestTimeProfile: the leaf's notBefore (model-signing-1) or now
	// (oms-1.0).
	ManifestTimeProfile       ManifestTimePolicy = C.AIOS_MANIFEST_TIME_PROFILE
	ManifestTimeLeafNotBefore ManifestTimePolicy = C.AIOS_MANIFEST_TIME_LEAF_NOT_BEFORE
	ManifestTimeNow           ManifestTimePolicy = C.AIOS_MANIFEST_TIME_NOW
	ManifestTimeFixed         ManifestTimePolicy = C.AIOS_MANIFEST_TIME_FIXED // ManifestVerifyOptions.FixedTime
)

// ManifestHashFlags are the flags of ManifestHashOptions.
type ManifestHashFlags uint32

// ManifestNoGitDefaults also hashes .git, .gitattributes, .github and
// .gitignore, which are left out by default (AIOS_MANIFEST_NO_GIT_DEFAULTS).
const ManifestNoGitDefaults ManifestHashFlags = C.AIOS_MANIFEST_NO_GIT_DEFAULTS

// ManifestVerifyFlags are the flags of ManifestVerifyOptions.
type ManifestVerifyFlags uint32

// The verify flags.
const (
	// ManifestVerifyIgnoreHint: key method, do not compare the bundle's
	// key hint with the key's (the hint is unauthenticated).
	ManifestVerifyIgnoreHint ManifestVerifyFlags = C.AIOS_MANIFEST_VERIFY_IGNORE_HINT
	// ManifestVerifyIgnoreUnsigned: VerifyDir does not report files the
	// manifest does not name.
	ManifestVerifyIgnoreUnsigned ManifestVerifyFlags = C.AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED
	// ManifestVerifyStrictEmpty: shards method, an extra empty file fails
	// too.
	ManifestVerifyStrictEmpty ManifestVerifyFlags = C.AIOS_MANIFEST_VERIFY_STRICT_EMPTY
	// ManifestVerifyNoLegacy refuses model_signing 0.2 bundles (legacy PAE).
	ManifestVerifyNoLegacy ManifestVerifyFlags = C.AIOS_MANIFEST_VERIFY_NO_LEGACY
)

// ManifestFlags are the bits of Manifest.Flags.
type ManifestFlags uint32

// The manifest flags.
const (
	ManifestFlagVerified      ManifestFlags = C.AIOS_MANIFEST_F_VERIFIED       // the signature was verified against the caller's trust
	ManifestFlagSigned        ManifestFlags = C.AIOS_MANIFEST_F_SIGNED         // made by SignManifest in this process
	ManifestFlagLegacy        ManifestFlags = C.AIOS_MANIFEST_F_LEGACY         // a model_signing 0.2 (Digests/v0.1) bundle
	ManifestFlagKeyless       ManifestFlags = C.AIOS_MANIFEST_F_KEYLESS        // a Sigstore keyless bundle (verified only by VerifyManifestSigstore)
	ManifestFlagAllowSymlinks ManifestFlags = C.AIOS_MANIFEST_F_ALLOW_SYMLINKS // signed with symlinks allowed
	ManifestFlagSingleFile    ManifestFlags = C.AIOS_MANIFEST_F_SINGLE_FILE    // the model is one file
)

// Manifest limits (include/aios/manifest.h).
const (
	ManifestBundleMax    = C.AIOS_MANIFEST_BUNDLE_MAX    // the largest bundle read (64 MiB)
	ManifestResourcesMax = C.AIOS_MANIFEST_RESOURCES_MAX // the most resources of a manifest (2^20)
)

// ManifestBundleMaxLen returns the loaded library's largest bundle
// (aios_manifest_bundle_max): the run-time twin of ManifestBundleMax.
func ManifestBundleMaxLen() int { return int(C.aios_manifest_bundle_max()) }

// ManifestResourcesMaxLen returns the loaded library's largest resource
// count (aios_manifest_resources_max): the run-time twin of
// ManifestResourcesMax.
func ManifestResourcesMaxLen() int { return int(C.aios_manifest_resources_max()) }

// ------------------------------------------------------------ options

// ManifestProgress is told the bytes hashed so far out of total (total is
// known once the walk is done) and the path in progress. Returning false
// stops the operation soon after (at the next read block) with an error
// whose Status is StatusCancelled.
//
// It may be called on the library's hashing threads, but never on two at
// once: the binding serialises the calls with a mutex, so a function that
// keeps state between calls needs no locking of its own, and what it
// wrote is visible to the calling goroutine when the call returns. A
// panic stops the operation and is raised again, with the same value, in
// the calling goroutine once the library call has returned; it never
// crosses the C frames.
type ManifestProgress func(done, total uint64, path string) bool

// ManifestHashOptions tunes hashing (aios_manifest_hash_options); the zero
// value means the defaults.
type ManifestHashOptions struct {
	Threads  uint32            // 0: online CPUs (at most 256); 1: the calling thread only
	ReadSize uint32            // bytes per read: 0: 4 MiB; else 64 KiB .. 64 MiB
	Flags    ManifestHashFlags // ManifestNoGitDefaults
	// IgnorePaths are canonical relative paths (MANIFEST.md 5.3) left out
	// of the model: a file, or a directory and everything below it. At
	// most 1024.
	IgnorePaths []string
	// Progress, if set, is called as bytes are hashed.
	Progress ManifestProgress
}

// ManifestSignOptions tunes SignManifest and HashManifest
// (aios_manifest_sign_options); nil means the defaults: profile
// model-signing-1, files method, SHA-256, no symlinks, the subject named
// after the model's basename.
type ManifestSignOptions struct {
	Profile ManifestProfile
	Method  ManifestMethod // ManifestFiles (default) or ManifestShards
	// HashType is "" or "sha256" (the default), or "blake2b".
	HashType string
	// ShardSize is the shard size of the shards method: 0 means
	// 1 000 000 000; else 1 MiB .. 2^40.
	ShardSize uint64
	// AllowSymlinks hashes symlinks to files inside the model (else a
	// symlink fails with StatusManifestSymlink).
	AllowSymlinks bool
	// SubjectName names the model in the statement; "" means the model
	// directory's (or file's) basename.
	SubjectName string
	// BundlePath, if set, is where the bundle is also written
	// (atomically). Inside the model it is excluded from hashing and
	// recorded in the manifest's ignore paths.
	BundlePath string
	// Provenance, if set, is a JSON object (MANIFEST.md 5.7) that is signed
	// with the manifest.
	Provenance json.RawMessage
	// Chain selects the certificate method: the leaf certificate (whose
	// public key is the signing key's) and intermediates, DER, leaf first,
	// no root.
	Chain [][]byte
	// StatCachePath, if set, names a stat cache (a file libaios owns,
	// MANIFEST.md 12.8) for incremental re-signing: files whose device,
	// inode, size, mtime and ctime match the cache reuse its digests. The
	// cache is rewritten after signing. Only a cache owned by this user and
	// writable by no one else is used (its digests are signed unread).
	StatCachePath string
	// Hash tunes the hashing.
	Hash ManifestHashOptions
}

// ManifestVerifyOptions tunes verification (aios_manifest_verify_options);
// nil means the defaults.
type ManifestVerifyOptions struct {
	Profile ManifestProfile
	// TimePolicy is when a certificate chain must be valid.
	TimePolicy ManifestTimePolicy
	// FixedTime is the time for ManifestTimeFixed (one-second resolution).
	// Setting it with TimePolicy left at its zero value
	// (ManifestTimeProfile) selects ManifestTimeFixed, as Python's
	// fixed_time does; with another TimePolicy it is an ErrInvalid error,
	// and so is ManifestTimeFixed without it.
	FixedTime time.Time
	Flags     ManifestVerifyFlags
	// BundleMax lowers the largest bundle accepted (0: ManifestBundleMax).
	BundleMax int
	// Hash tunes the hashing of VerifyDir and CompareDir (ignore paths,
	// threads, progress).
	Hash ManifestHashOptions
	// BundlePath, for VerifyDir and CompareDir: the bundle's file, if it
	// lies inside the model, is not an extra file.
	BundlePath string
	// StatCachePath, for VerifyDir: after a clean result, the stat cache
	// is written there, so that re-signing the model later (with the same
	// path in ManifestSignOptions) hashes only the files that changed.
	StatCachePath string
}

// cMem is the C memory that one call's options point to, freed after the
// call: options structs may hold no Go pointers.
type cMem struct {
	ptrs []unsafe.Pointer
}

func (m *cMem) free() {
	for _, p := range m.ptrs {
		C.free(p)
	}
	m.ptrs = nil
}

// str returns a C copy of s, or NULL for "".
func (m *cMem) str(what, s string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	p, err := cString(what, s)
	if err != nil {
		return nil, err
	}
	m.ptrs = append(m.ptrs, unsafe.Pointer(p))
	return p, nil
}

// bytes returns a C copy of b (NULL when empty).
func (m *cMem) bytes(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	p := C.CBytes(b)
	m.ptrs = append(m.ptrs, p)
	return p
}

// packBytes returns the items back to back and their lengths (for C).
func packBytes(items [][]byte) ([]byte, []C.size_t) {
	total := 0
	for _, b := range items {
		total += len(b)
	}
	data := make([]byte, 0, total)
	lens := make([]C.size_t, len(items))
	for i, b := range items {
		data = append(data, b...)
		lens[i] = C.size_t(len(b))
	}
	return data, lens
}

func (o *ManifestHashOptions) fill(c *C.aiosgo_mhash_opts, m *cMem, what string, progress C.uintptr_t) error {
	c.progress = progress
	if o == nil {
		return nil
	}
	c.threads = C.uint32_t(o.Threads)
	c.read_size = C.uint32_t(o.ReadSize)
	c.flags = C.uint32_t(o.Flags)
	if len(o.IgnorePaths) > 0 {
		var sb strings.Builder
		for i, p := range o.IgnorePaths {
			if strings.IndexByte(p, 0) >= 0 {
				return newError(StatusInvalidArgument, "aios: "+what+": IgnorePaths["+strconv.Itoa(i)+"] contains a NUL byte")
			}
			sb.WriteString(p)
			sb.WriteByte(0)
		}
		c.ignore = (*C.char)(m.bytes([]byte(sb.String())))
		c.ignore_count = C.size_t(len(o.IgnorePaths))
	}
	return nil
}

func (o *ManifestSignOptions) c(m *cMem, what string, progress C.uintptr_t) (*C.aiosgo_msign_opts, error) {
	if o == nil {
		if progress == 0 {
			return nil, nil
		}
		o = &ManifestSignOptions{}
	}
	c := &C.aiosgo_msign_opts{
		profile:        C.int32_t(o.Profile),
		method:         C.int32_t(o.Method),
		shard_size:     C.uint64_t(o.ShardSize),
		allow_symlinks: C.uint32_t(boolInt(o.AllowSymlinks)),
	}
	var err error
	if c.hash_type, err = m.str(what+": HashType", o.HashType); err != nil {
		return nil, err
	}
	if c.subject_name, err = m.str(what+": SubjectName", o.SubjectName); err != nil {
		return nil, err
	}
	if c.bundle_path, err = m.str(what+": BundlePath", o.BundlePath); err != nil {
		return nil, err
	}
	if len(o.Provenance) > 0 {
		if c.provenance_json, err = m.str(what+": Provenance", string(o.Provenance)); err != nil {
			return nil, err
		}
	}
	if c.stat_cache_path, err = m.str(what+": StatCachePath", o.StatCachePath); err != nil {
		return nil, err
	}
	if len(o.Chain) > 0 {
		data, lens := packBytes(o.Chain)
		// One byte more, so that empty certificates still get pointers
		// (the library says what is wrong with them).
		c.chain = (*C.uint8_t)(m.bytes(append(data, 0)))
		c.chain_lens = (*C.size_t)(m.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&lens[0])), len(lens)*int(unsafe.Sizeof(lens[0])))))
		c.chain_count = C.size_t(len(o.Chain))
	}
	if err := o.Hash.fill(&c.hash, m, what, progress); err != nil {
		return nil, err
	}
	return c, nil
}

func (o *ManifestVerifyOptions) c(m *cMem, what string, progress C.uintptr_t) (*C.aiosgo_mverify_opts, error) {
	if o == nil {
		if progress == 0 {
			return nil, nil
		}
		o = &ManifestVerifyOptions{}
	}
	if o.BundleMax < 0 {
		return nil, newError(StatusInvalidArgument, "aios: "+what+": negative BundleMax")
	}
	// A FixedTime is never ignored: it selects the fixed policy, or
	// contradicts an explicit other one.
	policy := o.TimePolicy
	if !o.FixedTime.IsZero() {
		switch policy {
		case ManifestTimeProfile:
			policy = ManifestTimeFixed
		case ManifestTimeFixed:
		default:
			return nil, newError(StatusInvalidArgument, "aios: "+what+": FixedTime is set but TimePolicy is "+
				strconv.FormatInt(int64(policy), 10)+", not ManifestTimeFixed")
		}
	} else if policy == ManifestTimeFixed {
		return nil, newError(StatusInvalidArgument, "aios: "+what+": TimePolicy ManifestTimeFixed needs FixedTime")
	}
	c := &C.aiosgo_mverify_opts{
		profile:     C.int32_t(o.Profile),
		time_policy: C.int32_t(policy),
		flags:       C.uint32_t(o.Flags),
		bundle_max:  C.size_t(o.BundleMax),
	}
	if !o.FixedTime.IsZero() {
		c.fixed_time = C.int64_t(o.FixedTime.Unix())
	}
	var err error
	if c.bundle_path, err = m.str(what+": BundlePath", o.BundlePath); err != nil {
		return nil, err
	}
	if c.stat_cache_path, err = m.str(what+": StatCachePath", o.StatCachePath); err != nil {
		return nil, err
	}
	if err := o.Hash.fill(&c.hash, m, what, progress); err != nil {
		return nil, err
	}
	return c, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ------------------------------------------------------------ progress

// progressState is the Go side of one call's progress callback.
type progressState struct {
	mu      sync.Mutex // serialises fn (the library promises it; this does not rely on it)
	fn      ManifestProgress
	stopped bool // fn said stop, or panicked: every later call stops too
}

//export aiosgoManifestProgress
func aiosgoManifestProgress(done, total C.uint64_t, path *C.char, payload C.uintptr_t) C.int {
	ctx := callbackFrom(payload)
	st := ctx.data.(*progressState)
	p := goStringOrEmpty(path)
	return ctx.run(func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.stopped {
			return StatusCancelled
		}
		st.stopped = true // stays set if fn panics
		if !st.fn(uint64(done), uint64(total), p) {
			return StatusCancelled
		}
		st.stopped = false
		return nil
	})
}

// withProgress runs one library call that may call fn (nil: no callback)
// on any thread. call receives the payload to put in the options (0 when
// fn is nil); finish turns the status into the error (errorFrom when
// nil). A panic of fn is raised again here, after finish.
func withProgress(fn ManifestProgress, finish func(C.int, *cErr) error,
	call func(payload C.uintptr_t, e *cErr) C.int) error {
	e := getCErr()
	defer putCErr(e)
	if finish == nil {
		finish = errorFrom
	}
	if fn == nil {
		return finish(call(0, e), e)
	}
	st := &progressState{fn: fn}
	ctx := &callbackCtx{data: st}
	h := cgo.NewHandle(ctx)
	rc := call(C.uintptr_t(h), e)
	h.Delete()
	// The library joined its threads before returning; taking the lock
	// once more orders every call of fn before what the caller does next
	// in Go's own terms, whatever the library does inside.
	st.mu.Lock()
	st.mu.Unlock()
	err := finish(rc, e)
	ctx.mu.Lock()
	panicked, val := ctx.panicked, ctx.panicVal
	ctx.mu.Unlock()
	if panicked {
		panic(val)
	}
	return err
}

// ------------------------------------------------------------ Manifest

// Manifest is a parsed OMS manifest (aios_manifest): the resources (file
// or shard names and digests), the root digest that identifies the model,
// and, when it came from VerifyManifestKey or VerifyManifestCertificate,
// the knowledge that the caller's trust signed it (Verified).
//
// A Manifest is immutable and safe for concurrent use by any number of
// goroutines. It holds one reference to the library's object: Close drops
// it, Ref returns another *Manifest with a reference of its own, and a
// cleanup drops the reference of one garbage collected unclosed. Close
// returns at once, also from a Progress callback of the same Manifest:
// calls already running (a VerifyDir, say) finish, and the reference is
// dropped when the last of them returns. After Close, methods that can
// fail return an ErrState error and getters return zero values.
type Manifest struct {
	h handle[*C.aios_manifest]
}

func freeManifest(p *C.aios_manifest) { C.aios_manifest_unref(p) }

func newManifest(p *C.aios_manifest) *Manifest {
	m := &Manifest{}
	attachHandle(m, &m.h, p, freeManifest)
	return m
}

// manifestGet runs a getter with the read lock held; the zero value when
// m is nil or closed.
func manifestGet[T any](m *Manifest, get func(p *C.aios_manifest) T) T {
	var v T
	if m == nil {
		return v
	}
	p, err := m.h.read("Manifest")
	if err != nil {
		return v
	}
	defer m.h.runlock()
	v = get(p)
	runtime.KeepAlive(m)
	return v
}

// use runs fn with the manifest's pointer and the read lock held (the
// lock is released before an error or a panic reaches the caller).
func (m *Manifest) use(fn func(p *C.aios_manifest) error) error {
	if m == nil {
		return nilError("Manifest")
	}
	p, err := m.h.read("Manifest")
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(m)
	defer m.h.runlock()
	return fn(p)
}

// SignManifest hashes the model at modelPath (a directory, or a regular
// file) and signs the statement with key (aios_manifest_sign): a key with
// KeyUseSign, ECDSA P-256 or P-384 (which model_signing verifies) or
// Ed25519 (a libaios extension, not in profile oms-1.0). It returns the
// bundle JSON and the signed manifest, which has ManifestFlagSigned but
// is not Verified: it is the signer's own view (Close it, or ignore it
// and let the cleanup free it). With opts.Chain the bundle uses the
// certificate method; with opts.BundlePath it is also written to a file.
//
// Errors: StatusManifestEmpty (nothing to sign), the walk's
// (StatusNotFound, StatusManifestPath, StatusManifestSymlink,
// StatusManifestSpecialFile, StatusIO, StatusLimit),
// StatusManifestChanged (a file changed while it was hashed),
// StatusCancelled (the progress function said stop),
// StatusManifestKeyMismatch (the certificate does not hold the key), and
// the key's own (StatusKeyUsage, StatusKeyDisabled, ...).
func SignManifest(modelPath string, key *Key, opts *ManifestSignOptions) ([]byte, *Manifest, error) {
	const what = "aios.SignManifest"
	if key == nil {
		return nil, nil, newError(StatusInvalidArgument, what+": key is nil")
	}
	cpath, err := cString(what+": modelPath", modelPath)
	if err != nil {
		return nil, nil, err
	}
	defer freeCString(cpath)
	lk, err := lockKeys(what+": key", []*Key{key})
	if err != nil {
		return nil, nil, err
	}
	defer lk.unlock()
	var mem cMem
	defer mem.free()
	var bundle *C.aios_buffer
	var out *C.aios_manifest
	var progress ManifestProgress
	if opts != nil {
		progress = opts.Hash.Progress
	}
	var calls kmsCalls
	err = withProgress(progress, func(rc C.int, e *cErr) error { return calls.finish(rc, e) },
		func(payload C.uintptr_t, e *cErr) C.int {
			co, err := opts.c(&mem, what, payload)
			if err != nil {
				return goFailure(err, e)
			}
			calls = beginKMS(lk.kms)
			return C.aiosgo_manifest_sign(&bundle, &out, cpath, lk.ptrs[0], co, e)
		})
	runtime.KeepAlive(lk)
	if err != nil {
		return nil, nil, err
	}
	return takeBytes(bundle), newManifest(out), nil
}

// goFailure records a failure detected on the Go side in e (as a shim
// would) and returns its status, for code paths that must return a C
// status.
func goFailure(err error, e *cErr) C.int {
	ae, ok := err.(*Error)
	if !ok {
		ae = newError(StatusInternal, err.Error())
	}
	e.status = C.int(ae.Status)
	e.kind = C.int(ae.Kind)
	e.name = C.aios_status_name(C.int(ae.Status))
	msg := ae.Message
	if len(msg) >= len(e.message) {
		msg = msg[:len(e.message)-1]
	}
	for i := 0; i < len(msg); i++ {
		e.message[i] = C.char(msg[i])
	}
	e.message[len(msg)] = 0
	return C.int(ae.Status)
}

// HashManifest hashes the model at modelPath without signing
// (aios_manifest_hash): an unsigned manifest (Flags 0) with the resources
// and root digest SignManifest would produce with the same opts. Nothing
// is written to opts.BundlePath, but, as when signing, a BundlePath inside
// the model is left out of the hashing and recorded in the ignore paths:
// with the bundle file present, the root digest is the signed one, and
// differs from hashing without BundlePath. opts.Chain plays no part;
// opts.StatCachePath is used and rewritten.
func HashManifest(modelPath string, opts *ManifestSignOptions) (*Manifest, error) {
	const what = "aios.HashManifest"
	cpath, err := cString(what+": modelPath", modelPath)
	if err != nil {
		return nil, err
	}
	defer freeCString(cpath)
	var mem cMem
	defer mem.free()
	var out *C.aios_manifest
	var progress ManifestProgress
	if opts != nil {
		progress = opts.Hash.Progress
	}
	err = withProgress(progress, nil, func(payload C.uintptr_t, e *cErr) C.int {
		co, err := opts.c(&mem, what, payload)
		if err != nil {
			return goFailure(err, e)
		}
		return C.aiosgo_manifest_hash(&out, cpath, co, e)
	})
	if err != nil {
		return nil, err
	}
	return newManifest(out), nil
}

// VerifyManifestKey verifies a bundle's signature with pub (any key whose
// public part is readable: KeyFromPublicPEM, a keyring or PKCS#11 key) and
// parses its statement (aios_manifest_verify_key). Nothing on disk is
// read. The result is Verified; check the model's bytes with VerifyDir,
// VerifyFile, VerifyRange or OpenStream.
//
// Errors: StatusFormat, StatusVersion, StatusLimit, StatusManifestMethod
// (not a key bundle), StatusManifestKeyMismatch (the bundle names another
// key), StatusAuth (the signature), StatusManifestSignatures,
// StatusManifestPredicate, StatusManifestPath, StatusManifestDuplicate,
// StatusManifestEmpty, StatusManifestRootDigest, StatusUnsupported,
// StatusKeyUsage.
func VerifyManifestKey(bundle []byte, pub *Key, opts *ManifestVerifyOptions) (*Manifest, error) {
	const what = "aios.VerifyManifestKey"
	if pub == nil {
		return nil, newError(StatusInvalidArgument, what+": key is nil")
	}
	var mem cMem
	defer mem.free()
	co, err := opts.c(&mem, what, 0)
	if err != nil {
		return nil, err
	}
	lk, err := lockKeys(what+": key", []*Key{pub})
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	var out *C.aios_manifest
	bp, bn := bytesArg(bundle)
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_manifest_verify_key(&out, bp, bn, lk.ptrs[0], co, e)
	runtime.KeepAlive(bundle)
	runtime.KeepAlive(lk)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return newManifest(out), nil
}

// VerifyManifestCertificate verifies a certificate-method bundle
// (aios_manifest_verify_certificate): the chain in the bundle must verify
// to one of anchors (each PEM or DER; every one is trusted) at the time
// opts.TimePolicy names, and the leaf must allow digitalSignature or code
// signing. Extra errors beyond VerifyManifestKey's: StatusManifestChain,
// StatusManifestCertUsage.
func VerifyManifestCertificate(bundle []byte, anchors [][]byte, opts *ManifestVerifyOptions) (*Manifest, error) {
	const what = "aios.VerifyManifestCertificate"
	var mem cMem
	defer mem.free()
	co, err := opts.c(&mem, what, 0)
	if err != nil {
		return nil, err
	}
	data, lens := packBytes(anchors)
	var lp *C.size_t
	if len(lens) > 0 {
		lp = &lens[0]
	}
	var out *C.aios_manifest
	bp, bn := bytesArg(bundle)
	ap, _ := bytesArg(data)
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_manifest_verify_certificate(&out, bp, bn, ap, lp, C.size_t(len(lens)), co, e)
	runtime.KeepAlive(bundle)
	runtime.KeepAlive(data)
	runtime.KeepAlive(lens)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newManifest(out), nil
}

// VerifyManifestSigstore verifies a Sigstore keyless bundle
// (aios_manifest_verify_sigstore), the default of `model_signing sign`:
// trustedRoot is a Sigstore TrustedRoot JSON document (the one the
// Sigstore clients ship), or a ClientTrustConfig holding one (the file
// `model_signing verify sigstore --trust_config` takes); libaios fetches
// nothing. The log entry (Rekor v1:
// its signed entry timestamp; v1 or v2: its inclusion proof and checkpoint)
// must verify with a log key of the root and name this signature and
// certificate; its time (v1's integrated time, and any RFC 3161 timestamp
// that verifies with a timestamp authority of the root; a v2 entry needs
// one) must be proven; the certificate must chain to a Fulcio CA of the
// root at that time;
// its SubjectAltName must equal identity and its OIDC issuer oidcIssuer,
// exactly; one of its embedded SCTs must verify with a CT log key of the
// root. Errors: ErrAuth (the log entry, the SCTs or the signature),
// StatusManifestChain, StatusManifestCertUsage,
// StatusManifestKeyMismatch (another identity or issuer),
// StatusManifestMethod (not a keyless bundle), and VerifyManifestKey's.
func VerifyManifestSigstore(bundle, trustedRoot []byte, identity, oidcIssuer string, opts *ManifestVerifyOptions) (*Manifest, error) {
	const what = "aios.VerifyManifestSigstore"
	var mem cMem
	defer mem.free()
	co, err := opts.c(&mem, what, 0)
	if err != nil {
		return nil, err
	}
	cid, err := cString(what+": identity", identity)
	if err != nil {
		return nil, err
	}
	defer freeCString(cid)
	ciss, err := cString(what+": oidcIssuer", oidcIssuer)
	if err != nil {
		return nil, err
	}
	defer freeCString(ciss)
	var out *C.aios_manifest
	bp, bn := bytesArg(bundle)
	rp, rn := bytesArg(trustedRoot)
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_manifest_verify_sigstore(&out, bp, bn, rp, rn, cid, ciss, co, e)
	runtime.KeepAlive(bundle)
	runtime.KeepAlive(trustedRoot)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newManifest(out), nil
}

// OpenManifest parses a bundle without any trust (aios_manifest_open),
// for inspection and for Sigstore keyless bundles: the result is not
// Verified, so VerifyDir, VerifyFile, VerifyRange and OpenStream refuse
// it (StatusManifestUnverified); CompareDir works.
func OpenManifest(bundle []byte, opts *ManifestVerifyOptions) (*Manifest, error) {
	const what = "aios.OpenManifest"
	var mem cMem
	defer mem.free()
	co, err := opts.c(&mem, what, 0)
	if err != nil {
		return nil, err
	}
	var out *C.aios_manifest
	bp, bn := bytesArg(bundle)
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_manifest_open(&out, bp, bn, co, e)
	runtime.KeepAlive(bundle)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newManifest(out), nil
}

// ReadManifestBundle reads a bundle file (aios_manifest_read_bundle),
// refusing one larger than opts.BundleMax (default ManifestBundleMax)
// with StatusLimit before reading it.
func ReadManifestBundle(path string, opts *ManifestVerifyOptions) ([]byte, error) {
	const what = "aios.ReadManifestBundle"
	cpath, err := cString(what+": path", path)
	if err != nil {
		return nil, err
	}
	defer freeCString(cpath)
	var mem cMem
	defer mem.free()
	co, err := opts.c(&mem, what, 0)
	if err != nil {
		return nil, err
	}
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	if err := errorFrom(C.aiosgo_manifest_read_bundle(&out, cpath, co, e), e); err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// Ref returns a new *Manifest for the same manifest, holding a reference
// of its own (aios_manifest_ref): both must be closed.
func (m *Manifest) Ref() (*Manifest, error) {
	var out *Manifest
	err := m.use(func(p *C.aios_manifest) error {
		out = newManifest(C.aios_manifest_ref(p))
		return nil
	})
	return out, err
}

// Close drops this Manifest's reference (aios_manifest_unref). It is
// idempotent and always returns nil.
func (m *Manifest) Close() error {
	if m == nil {
		return nil
	}
	m.h.close(freeManifest)
	runtime.KeepAlive(m)
	return nil
}

// Verified reports whether the signature was verified against the
// caller's trust (aios_manifest_is_verified); false after Close.
func (m *Manifest) Verified() bool {
	return manifestGet(m, func(p *C.aios_manifest) bool { return C.aios_manifest_is_verified(p) != 0 })
}

// Flags returns the manifest's flags (aios_manifest_flags); 0 after Close.
func (m *Manifest) Flags() ManifestFlags {
	return manifestGet(m, func(p *C.aios_manifest) ManifestFlags { return ManifestFlags(C.aios_manifest_flags(p)) })
}

// RootDigest returns the OMS subject digest, the model's identity for
// policy and audit (aios_manifest_root_digest); zeros after Close.
func (m *Manifest) RootDigest() [32]byte {
	return manifestGet(m, func(p *C.aios_manifest) (d [32]byte) {
		if C.aios_manifest_root_digest(p, (*C.uint8_t)(unsafe.Pointer(&d[0]))) != C.AIOS_OK {
			return [32]byte{}
		}
		return d
	})
}

// StatementDigest returns the SHA-256 of the signed statement bytes, which
// binds names, ranges and options (aios_manifest_statement_digest); zeros
// after Close.
func (m *Manifest) StatementDigest() [32]byte {
	return manifestGet(m, func(p *C.aios_manifest) (d [32]byte) {
		if C.aios_manifest_statement_digest(p, (*C.uint8_t)(unsafe.Pointer(&d[0]))) != C.AIOS_OK {
			return [32]byte{}
		}
		return d
	})
}

// SubjectName returns the model's name in the statement
// (aios_manifest_subject_name); "" after Close.
func (m *Manifest) SubjectName() string {
	return manifestGet(m, func(p *C.aios_manifest) string { return goStringOrEmpty(C.aios_manifest_subject_name(p)) })
}

// Method returns the manifest's method (aios_manifest_get_method).
func (m *Manifest) Method() ManifestMethod {
	return manifestGet(m, func(p *C.aios_manifest) ManifestMethod { return ManifestMethod(C.aios_manifest_get_method(p)) })
}

// Profile returns the profile the manifest was read or written under
// (aios_manifest_get_profile).
func (m *Manifest) Profile() ManifestProfile {
	return manifestGet(m, func(p *C.aios_manifest) ManifestProfile { return ManifestProfile(C.aios_manifest_get_profile(p)) })
}

// HashType returns the resource digest algorithm, "sha256" or "blake2b"
// (aios_manifest_hash_type); "" after Close.
func (m *Manifest) HashType() string {
	return manifestGet(m, func(p *C.aios_manifest) string { return goStringOrEmpty(C.aios_manifest_hash_type(p)) })
}

// ShardSize returns the shard size of a shards manifest, 0 for files
// (aios_manifest_shard_size).
func (m *Manifest) ShardSize() uint64 {
	return manifestGet(m, func(p *C.aios_manifest) uint64 { return uint64(C.aios_manifest_shard_size(p)) })
}

// ResourceCount returns the number of resources
// (aios_manifest_resource_count); 0 after Close.
func (m *Manifest) ResourceCount() int {
	return manifestGet(m, func(p *C.aios_manifest) int { return int(C.aios_manifest_resource_count(p)) })
}

// ManifestResource is one resource of a manifest: a file (files method) or
// a shard of one.
type ManifestResource struct {
	// Name is as listed: "path" (files) or "path:start:end" (shards).
	Name string
	// Start and End are the byte range; for the files method 0 and
	// math.MaxUint64, the size being unknown.
	Start, End uint64
	// Digest is the resource's digest (32 bytes for SHA-256, 64 for
	// BLAKE2b).
	Digest []byte
}

func resourceAt(p *C.aios_manifest, i int, e *cErr) (ManifestResource, error) {
	var name *C.char
	var start, end C.uint64_t
	var dg *C.uint8_t
	var dn C.size_t
	if err := errorFrom(C.aiosgo_manifest_resource_at(p, C.size_t(i), &name, &start, &end, &dg, &dn, e), e); err != nil {
		return ManifestResource{}, err
	}
	return ManifestResource{
		Name:   goStringOrEmpty(name),
		Start:  uint64(start),
		End:    uint64(end),
		Digest: C.GoBytes(unsafe.Pointer(dg), C.int(dn)),
	}, nil
}

// Resource returns the i-th resource, in the manifest's order
// (aios_manifest_resource_at); ErrInvalid for an index out of range.
func (m *Manifest) Resource(i int) (ManifestResource, error) {
	var r ManifestResource
	err := m.use(func(p *C.aios_manifest) error {
		if i < 0 {
			return newError(StatusInvalidArgument, "aios.Manifest.Resource: negative index")
		}
		e := getCErr()
		defer putCErr(e)
		var err error
		r, err = resourceAt(p, i, e)
		return err
	})
	return r, err
}

// Resources returns a copy of every resource, in the manifest's order; nil
// after Close.
func (m *Manifest) Resources() []ManifestResource {
	return manifestGet(m, func(p *C.aios_manifest) []ManifestResource {
		n := int(C.aios_manifest_resource_count(p))
		out := make([]ManifestResource, 0, n)
		e := getCErr()
		defer putCErr(e)
		for i := 0; i < n; i++ {
			r, err := resourceAt(p, i, e)
			if err != nil {
				break
			}
			out = append(out, r)
		}
		return out
	})
}

func (m *Manifest) json(which C.int) ([]byte, error) {
	var out []byte
	err := m.use(func(p *C.aios_manifest) error {
		var b *C.aios_buffer
		e := getCErr()
		defer putCErr(e)
		if err := errorFrom(C.aiosgo_manifest_json(p, which, &b, e), e); err != nil {
			return err
		}
		out = takeBytes(b)
		return nil
	})
	return trimNUL(out), err
}

// trimNUL drops a terminating NUL a library text buffer may count.
func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// Provenance returns the signed provenance (MANIFEST.md 5.7) as compact
// JSON (aios_manifest_provenance_json); an error matching ErrNotFound
// (StatusNotFound) when the manifest has none.
func (m *Manifest) Provenance() (json.RawMessage, error) {
	b, err := m.json(0)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// ManifestTrust says what a ManifestSigner's fields rest on (the "trust"
// member of aios_manifest_signer_json).
type ManifestTrust string

// The trust words.
const (
	// ManifestTrustVerified: the signature was verified against the
	// caller's key, anchors or Sigstore root (ManifestFlagVerified).
	ManifestTrustVerified ManifestTrust = "verified"
	// ManifestTrustSignedHere: this process signed it (SignManifest): the
	// signer's own view (ManifestFlagSigned).
	ManifestTrustSignedHere ManifestTrust = "signed-here"
	// ManifestTrustUnverified: OpenManifest; the fields only repeat what
	// the bundle claims: never trust them.
	ManifestTrustUnverified ManifestTrust = "unverified"
)

// ManifestSigner says who signed a manifest (aios_manifest_signer_json).
type ManifestSigner struct {
	// Trust says what the fields below rest on: verified, signed here, or
	// only what an unverified bundle claims.
	Trust ManifestTrust `json:"trust"`
	// Method is "key", "certificate" or "keyless".
	Method string `json:"method"`
	// Hint is the key method's key hint (hex SHA-256 of the public key
	// PEM), if the bundle has one.
	Hint string `json:"hint,omitempty"`
	// Subject and Issuer are the leaf certificate's names (certificate
	// and keyless methods).
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	// NotBefore and NotAfter are the leaf's validity, in seconds since
	// the epoch.
	NotBefore int64 `json:"not_before,omitempty"`
	NotAfter  int64 `json:"not_after,omitempty"`
	// Chain is the number of certificates in the bundle.
	Chain int `json:"chain,omitempty"`
	// CheckedAt is the time the chain was found valid at (the time
	// policy's T, MANIFEST.md 7.4), in seconds since the epoch; 0 when no
	// chain was verified (the key method, SignManifest, OpenManifest).
	CheckedAt int64 `json:"checked_at,omitempty"`
	// Legacy marks a model_signing 0.2 bundle (legacy PAE).
	Legacy bool `json:"legacy,omitempty"`
	// Keyless bundles verified by VerifyManifestSigstore: the certificate's
	// identity (SubjectAltName) and OIDC issuer, the log entry's index,
	// its integrated time (Rekor v1) and the time of the first RFC 3161
	// timestamp that verified, in seconds since the epoch (0 if none).
	Identity       string `json:"identity,omitempty"`
	OIDCIssuer     string `json:"oidc_issuer,omitempty"`
	LogIndex       int64  `json:"log_index,omitempty"`
	IntegratedTime int64  `json:"integrated_time,omitempty"`
	Timestamp      int64  `json:"timestamp,omitempty"`

	Raw json.RawMessage `json:"-"` // the whole JSON text
}

// Signer returns who signed the manifest (aios_manifest_signer_json): what
// it rests on (Trust: check it before relying on the rest), for the key
// method the key hint, for certificates the leaf's subject, issuer and
// validity and the time the chain was checked at. An error matching
// ErrNotFound for a manifest that was hashed, not signed.
func (m *Manifest) Signer() (ManifestSigner, error) {
	b, err := m.json(1)
	if err != nil {
		return ManifestSigner{}, err
	}
	var s ManifestSigner
	if err := json.Unmarshal(b, &s); err != nil {
		return ManifestSigner{}, newError(StatusInternal, "aios.Manifest.Signer: cannot parse aios_manifest_signer_json(): "+err.Error())
	}
	s.Raw = json.RawMessage(b)
	return s, nil
}

// JSON returns everything about the manifest as one JSON object
// (aios_manifest_to_json, what `aios manifest show` prints).
func (m *Manifest) JSON() (json.RawMessage, error) {
	b, err := m.json(2)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// ------------------------------------------------------------ the diff

// ManifestChangeKind mirrors aios_manifest_change.
type ManifestChangeKind int32

// The kinds of change.
const (
	ManifestMissing  ManifestChangeKind = C.AIOS_MANIFEST_MISSING  // named by the manifest, absent
	ManifestExtra    ManifestChangeKind = C.AIOS_MANIFEST_EXTRA    // present, not named
	ManifestModified ManifestChangeKind = C.AIOS_MANIFEST_MODIFIED // named and present, other bytes
	// ManifestExtraEmpty (shards method) is an empty file no shard can
	// name: listed, but not a failure unless ManifestVerifyStrictEmpty.
	ManifestExtraEmpty ManifestChangeKind = C.AIOS_MANIFEST_EXTRA_EMPTY
)

// String returns "missing", "extra", "modified" or "extra_empty" (the
// diff JSON's keys).
func (k ManifestChangeKind) String() string {
	switch k {
	case ManifestMissing:
		return "missing"
	case ManifestExtra:
		return "extra"
	case ManifestModified:
		return "modified"
	case ManifestExtraEmpty:
		return "extra_empty"
	}
	return "ManifestChangeKind(" + strconv.FormatInt(int64(k), 10) + ")"
}

// ManifestChange is one entry of a ManifestDiff.
type ManifestChange struct {
	Kind ManifestChangeKind
	Path string
	// FirstBadOffset is, for a modified file, the start of the first
	// differing shard (0 with the files method); else 0.
	FirstBadOffset uint64
}

// ManifestDiff is how a model differs from its manifest: a Go copy of the
// library's aios_manifest_diff, in path order. An empty diff means every
// file matched.
type ManifestDiff struct {
	Items []ManifestChange
	json  []byte
}

// JSON returns the diff as the library writes it
// (aios_manifest_diff_json): {"missing":[...],"extra":[...],
// "modified":[...],"extra_empty":[...]}.
func (d *ManifestDiff) JSON() json.RawMessage {
	if d == nil {
		return nil
	}
	return append(json.RawMessage(nil), d.json...)
}

// Len returns the number of changes.
func (d *ManifestDiff) Len() int {
	if d == nil {
		return 0
	}
	return len(d.Items)
}

// takeDiff copies the library's diff into Go memory and frees it.
func takeDiff(p *C.aios_manifest_diff) (*ManifestDiff, error) {
	if p == nil {
		return nil, nil
	}
	defer C.aios_manifest_diff_free(p)
	n := int(C.aios_manifest_diff_count(p))
	d := &ManifestDiff{Items: make([]ManifestChange, 0, n)}
	e := getCErr()
	defer putCErr(e)
	for i := 0; i < n; i++ {
		var kind C.int
		var path *C.char
		var off C.uint64_t
		if err := errorFrom(C.aiosgo_manifest_diff_at(p, C.size_t(i), &kind, &path, &off, e), e); err != nil {
			return nil, err
		}
		d.Items = append(d.Items, ManifestChange{Kind: ManifestChangeKind(kind), Path: goStringOrEmpty(path), FirstBadOffset: uint64(off)})
	}
	var b *C.aios_buffer
	if err := errorFrom(C.aiosgo_manifest_diff_json(p, &b, e), e); err != nil {
		return nil, err
	}
	d.json = trimNUL(takeBytes(b))
	return d, nil
}

func (m *Manifest) dir(what string, compare C.int, modelPath string, opts *ManifestVerifyOptions) (*ManifestDiff, error) {
	cpath, err := cString(what+": modelPath", modelPath)
	if err != nil {
		return nil, err
	}
	defer freeCString(cpath)
	var mem cMem
	defer mem.free()
	var progress ManifestProgress
	if opts != nil {
		progress = opts.Hash.Progress
	}
	var diff *C.aios_manifest_diff
	var callErr error
	err = m.use(func(p *C.aios_manifest) error {
		callErr = withProgress(progress, nil, func(payload C.uintptr_t, e *cErr) C.int {
			co, err := opts.c(&mem, what, payload)
			if err != nil {
				return goFailure(err, e)
			}
			return C.aiosgo_manifest_verify_dir(p, cpath, &diff, co, compare, e)
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, derr := takeDiff(diff)
	if callErr != nil {
		return d, callErr
	}
	return d, derr
}

// VerifyDir verifies the model at modelPath against the manifest, which
// must be Verified (else StatusManifestUnverified before any I/O;
// aios_manifest_verify_dir): walk, hash in parallel, compare. It returns
// the diff and nil when every file matches (a shards manifest may still
// list ManifestExtraEmpty files). When files are missing, extra or
// modified it returns the diff and an error that matches ErrAuth, with
// Status StatusManifestMismatch. Other failures (those of SignManifest's
// walk and hashing) return no diff.
//
// A bundle kept inside the model is an extra file unless the manifest
// recorded it as ignored or opts.BundlePath names it.
func (m *Manifest) VerifyDir(modelPath string, opts *ManifestVerifyOptions) (*ManifestDiff, error) {
	return m.dir("aios.Manifest.VerifyDir", 0, modelPath, opts)
}

// CompareDir is VerifyDir for any manifest, verified or not
// (aios_manifest_compare_dir): for inspection, and for keyless bundles.
// It says whether the content matches, not who signed it.
func (m *Manifest) CompareDir(modelPath string, opts *ManifestVerifyOptions) (*ManifestDiff, error) {
	return m.dir("aios.Manifest.CompareDir", 1, modelPath, opts)
}

func (m *Manifest) incremental(what string, root *os.File, relPath string, opts *ManifestHashOptions,
	call func(p *C.aios_manifest, fd C.int, rel *C.char, co *C.aiosgo_mhash_opts, e *cErr) C.int) error {
	fd, err := fileFd(what+": root", root)
	if err != nil {
		return err
	}
	crel, err := cString(what+": relPath", relPath)
	if err != nil {
		return err
	}
	defer freeCString(crel)
	var mem cMem
	defer mem.free()
	var progress ManifestProgress
	if opts != nil {
		progress = opts.Progress
	}
	err = m.use(func(p *C.aios_manifest) error {
		return withProgress(progress, nil, func(payload C.uintptr_t, e *cErr) C.int {
			var co *C.aiosgo_mhash_opts
			if opts != nil || payload != 0 {
				co = &C.aiosgo_mhash_opts{}
				if err := opts.fill(co, &mem, what, payload); err != nil {
					return goFailure(err, e)
				}
			}
			return call(p, fd, crel, co, e)
		})
	})
	runtime.KeepAlive(root)
	return err
}

// VerifyFile checks one file of the model against a Verified manifest
// (aios_manifest_verify_file). root is the open model directory (for a
// single-file model: the file itself, with relPath "."); relPath is
// opened beneath it without following any symlink. A file the manifest
// does not name: StatusManifestNotSigned (ErrNotFound); other bytes:
// StatusManifestMismatch (ErrAuth). Only opts' Threads, ReadSize and
// Progress matter here.
func (m *Manifest) VerifyFile(root *os.File, relPath string, opts *ManifestHashOptions) error {
	return m.incremental("aios.Manifest.VerifyFile", root, relPath, opts,
		func(p *C.aios_manifest, fd C.int, rel *C.char, co *C.aiosgo_mhash_opts, e *cErr) C.int {
			return C.aiosgo_manifest_verify_file(p, fd, rel, co, e)
		})
}

// VerifyRange checks the bytes [offset, offset+length) of one file
// (aios_manifest_verify_range): with the shards method only the shards
// that cover the range are hashed; with the files method the whole file
// is. A range past the end of the file: StatusManifestNotSigned.
func (m *Manifest) VerifyRange(root *os.File, relPath string, offset, length uint64, opts *ManifestHashOptions) error {
	return m.incremental("aios.Manifest.VerifyRange", root, relPath, opts,
		func(p *C.aios_manifest, fd C.int, rel *C.char, co *C.aiosgo_mhash_opts, e *cErr) C.int {
			return C.aiosgo_manifest_verify_range(p, fd, rel, C.uint64_t(offset), C.uint64_t(length), co, e)
		})
}

// ------------------------------------------------------------ streams

// ManifestStream reads one signed file through the verifier, on one
// descriptor opened beneath the model root without following symlinks
// (aios_manifest_stream). It offers two ways of reading; do not mix them
// on one stream (StatusState):
//
//   - Read (io.Reader) hands out bytes as they are read and hashes them.
//     They are NOT verified until Read has returned io.EOF (at the end it
//     checks the digest and returns the mismatch instead of io.EOF) or
//     Finish has returned nil: use none of them before.
//   - ReadVerified returns only verified bytes: whole units (a shard, or
//     with the files method the whole file), checked before they are
//     reported.
//
// After a mismatch the stream is failed: every later call returns the
// same error. A ManifestStream is for one goroutine at a time; it keeps
// its own reference to the manifest. Close releases it.
type ManifestStream struct {
	h handle[*C.aios_manifest_stream]
}

func freeManifestStream(p *C.aios_manifest_stream) { C.aios_manifest_stream_free(p) }

// OpenStream opens relPath beneath root for reading through the verifier
// (aios_manifest_stream_open), reading and hashing on the calling thread.
// The manifest must be Verified. root is the open model directory (for a
// single-file model: the file, with relPath "."). Errors:
// StatusManifestNotSigned (a name the manifest does not hold),
// StatusManifestPath (not a canonical relative path),
// StatusManifestSymlink, StatusManifestUnverified, StatusManifestMismatch
// (the file has another size than signed), StatusIO.
func (m *Manifest) OpenStream(root *os.File, relPath string) (*ManifestStream, error) {
	return m.openStream("aios.Manifest.OpenStream", root, relPath, nil)
}

// ManifestStreamOptions configures OpenStreamWith
// (aios_manifest_stream_options).
type ManifestStreamOptions struct {
	// Threads: 0 = online CPUs (at most 256); 1 = the calling thread only.
	// More let the stream hash on threads of its own while it reads:
	// ReadVerified hashes the units that fit its buffer at once (give it
	// several), and Read returns before its bytes are hashed, so a
	// mismatch surfaces at a later Read or at Finish.
	Threads uint32
}

// OpenStreamWith is OpenStream with options (aios_manifest_stream_new);
// nil means the defaults (Threads 0: online CPUs).
func (m *Manifest) OpenStreamWith(root *os.File, relPath string, opts *ManifestStreamOptions) (*ManifestStream, error) {
	if opts == nil {
		opts = &ManifestStreamOptions{}
	}
	return m.openStream("aios.Manifest.OpenStreamWith", root, relPath, opts)
}

func (m *Manifest) openStream(what string, root *os.File, relPath string, opts *ManifestStreamOptions) (*ManifestStream, error) {
	fd, err := fileFd(what+": root", root)
	if err != nil {
		return nil, err
	}
	crel, err := cString(what+": relPath", relPath)
	if err != nil {
		return nil, err
	}
	defer freeCString(crel)
	var out *C.aios_manifest_stream
	err = m.use(func(p *C.aios_manifest) error {
		e := getCErr()
		defer putCErr(e)
		if opts == nil {
			return errorFrom(C.aiosgo_manifest_stream_open(&out, p, fd, crel, e), e)
		}
		return errorFrom(C.aiosgo_manifest_stream_new(&out, p, fd, crel, C.uint32_t(opts.Threads), e), e)
	})
	runtime.KeepAlive(root)
	if err != nil {
		return nil, err
	}
	s := &ManifestStream{}
	attachHandle(s, &s.h, out, freeManifestStream)
	return s, nil
}

func (s *ManifestStream) read(verified C.int, b []byte) (int, error) {
	if s == nil {
		return 0, nilError("ManifestStream")
	}
	p, err := s.h.write("ManifestStream")
	if err != nil {
		return 0, err
	}
	defer s.h.unlock()
	bp, bc := outArg(b)
	var n C.size_t
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_manifest_stream_read(p, verified, bp, bc, &n, e)
	runtime.KeepAlive(b)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		return int(n), err
	}
	if n == 0 && (len(b) > 0 || verified != 0) {
		if verified == 0 {
			// The end: whether the bytes were the signed ones.
			if err := errorFrom(C.aiosgo_manifest_stream_finish(p, e), e); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	return int(n), nil
}

// Read reads up to len(b) bytes of the file (aios_manifest_stream_read),
// hashing them as they go by. At the end of the file it finishes the
// stream: io.EOF means every byte read was the signed bytes; a mismatch
// (StatusManifestMismatch) comes instead of io.EOF, possibly earlier (at
// the last byte of a shard). See ManifestStream for why nothing read may
// be used before then.
func (s *ManifestStream) Read(b []byte) (int, error) {
	return s.read(0, b)
}

// ReadVerified reads the next whole units that fit in b, checks them and
// only then returns them (aios_manifest_stream_read_verified). b must hold
// at least UnitSize bytes (else StatusBufferTooSmall). It returns io.EOF
// at the end. On a mismatch nothing of the failing unit is returned (b is
// zeroed) and the error matches StatusManifestMismatch.
func (s *ManifestStream) ReadVerified(b []byte) (int, error) {
	return s.read(1, b)
}

// Finish reads and checks whatever Read did not, and says whether every
// byte was the signed bytes (aios_manifest_stream_finish). It may be
// called more than once; after a success it returns nil again.
func (s *ManifestStream) Finish() error {
	if s == nil {
		return nilError("ManifestStream")
	}
	p, err := s.h.write("ManifestStream")
	if err != nil {
		return err
	}
	defer s.h.unlock()
	e := getCErr()
	defer putCErr(e)
	err = errorFrom(C.aiosgo_manifest_stream_finish(p, e), e)
	runtime.KeepAlive(s)
	return err
}

// Size returns the file's size (aios_manifest_stream_size); 0 after Close.
func (s *ManifestStream) Size() uint64 {
	return streamGet(s, func(p *C.aios_manifest_stream) uint64 { return uint64(C.aios_manifest_stream_size(p)) })
}

// UnitSize returns the largest unit ReadVerified reads at once: the shard
// size, or with the files method the file's size
// (aios_manifest_stream_unit_size); 0 after Close.
func (s *ManifestStream) UnitSize() uint64 {
	return streamGet(s, func(p *C.aios_manifest_stream) uint64 { return uint64(C.aios_manifest_stream_unit_size(p)) })
}

// Fd returns the stream's descriptor (aios_manifest_stream_fd), for
// example to mmap the file after Finish succeeded. It is borrowed: valid
// until Close, and not to be closed by the caller. -1 after Close.
func (s *ManifestStream) Fd() int {
	if s == nil {
		return -1
	}
	p, err := s.h.read("ManifestStream")
	if err != nil {
		return -1
	}
	fd := int(C.aios_manifest_stream_fd(p))
	s.h.runlock()
	runtime.KeepAlive(s)
	return fd
}

func streamGet[T any](s *ManifestStream, get func(p *C.aios_manifest_stream) T) T {
	var v T
	if s == nil {
		return v
	}
	p, err := s.h.read("ManifestStream")
	if err != nil {
		return v
	}
	v = get(p)
	s.h.runlock()
	runtime.KeepAlive(s)
	return v
}

// Close releases the stream and its descriptor (aios_manifest_stream_free).
// It is idempotent and always returns nil.
func (s *ManifestStream) Close() error {
	if s == nil {
		return nil
	}
	s.h.close(freeManifestStream)
	runtime.KeepAlive(s)
	return nil
}
