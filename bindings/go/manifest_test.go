package aios

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The manifest module through the binding: the scenarios of
// tests/unit/test_manifest_api.c (sign, verify, the diff, shards,
// incremental checks, streams, the stat cache, provenance, bad input),
// the golden bundles of ../shared/vectors/oms, and what is the binding's
// own: options marshalling, progress callbacks on the library's threads
// (under -race), cancellation and panics, handles after Close.

// omsVectorDir is ../shared/vectors/oms/model-transparency from the
// repository root (AIOS_SHARED_VECTORS overrides ../shared/vectors, as
// the CMake cache variable of the same name does for the C tests).
func omsVectorDir() string {
	base := os.Getenv("AIOS_SHARED_VECTORS")
	if base == "" {
		base = filepath.Join("..", "..", "..", "shared", "vectors")
	}
	return filepath.Join(base, "oms", "model-transparency")
}

const (
	rootS1nS2      = "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4" // v1.0.1/v1.1.0 elliptic-key
	rootS1nSingle  = "afa48c8674afe334b8a7dea34f7b46ab256e9255edf8da2132792341b667a45b" // v0.3.1/v1.0.0 elliptic-key
	rootS1S2       = "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226" // certificate and sigstore
	goldenKeyHint  = "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"
	mfCafe         = "weights/part 2 caf\u00e9.bin"
	mfBigLen       = 3 << 20
	mfModelBytes   = mfBigLen + 13 + 11 + 4 // config.json, part 2, deep.txt (empty is 0)
	mfEmptyDiffStr = `{"missing":[],"extra":[],"modified":[],"extra_empty":[]}`
)

type mfFixture struct {
	p256, p384, ed, pub256 *Key
	model                  string
	big                    []byte
}

func mfWrite(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mfMakeModel(t *testing.T, dir string) []byte {
	big := make([]byte, mfBigLen)
	for i := range big {
		big[i] = byte(i*131 + i>>13)
	}
	mfWrite(t, dir, "config.json", []byte(`{"layers": 2}`))
	mfWrite(t, dir, "weights/part-1.bin", big)
	mfWrite(t, dir, mfCafe, []byte("second part"))
	mfWrite(t, dir, "empty", nil)
	mfWrite(t, dir, "a/b/c/deep.txt", []byte("deep"))
	return big
}

func newMfFixture(t *testing.T) *mfFixture {
	t.Helper()
	kr, _ := newKeyring(t)
	f := &mfFixture{
		p256: mustAdd(t, kr, "p256", KeyECDSAP256, KeySpec{}),
		p384: mustAdd(t, kr, "p384", KeyECDSAP384, KeySpec{}),
		ed:   mustAdd(t, kr, "ed", KeyEd25519, KeySpec{}),
	}
	pem, err := f.p256.PublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	if f.pub256, err = KeyFromPublicPEM(pem, "pub"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.pub256.Close() })
	f.model = filepath.Join(t.TempDir(), "my model")
	f.big = mfMakeModel(t, f.model)
	return f
}

func closeManifest(t *testing.T, m *Manifest) {
	t.Cleanup(func() { m.Close() })
}

// signVerify signs f.model with signer and verifies the bundle with
// verifier; the two views agree.
func (f *mfFixture) signVerify(t *testing.T, opts *ManifestSignOptions, signer, verifier *Key) (*Manifest, []byte) {
	t.Helper()
	bundle, signed, err := SignManifest(f.model, signer, opts)
	if err != nil {
		t.Fatalf("SignManifest: %v", err)
	}
	defer signed.Close()
	if signed.Flags()&ManifestFlagSigned == 0 || signed.Verified() {
		t.Fatalf("signer's manifest: flags %#x, verified %v", signed.Flags(), signed.Verified())
	}
	m, err := VerifyManifestKey(bundle, verifier, nil)
	if err != nil {
		t.Fatalf("VerifyManifestKey: %v", err)
	}
	closeManifest(t, m)
	if !m.Verified() || m.Flags()&ManifestFlagVerified == 0 || m.Flags()&ManifestFlagSigned != 0 {
		t.Fatalf("verified manifest: flags %#x, verified %v", m.Flags(), m.Verified())
	}
	if m.RootDigest() != signed.RootDigest() || m.RootDigest() == [32]byte{} {
		t.Fatalf("root digests differ: %x %x", m.RootDigest(), signed.RootDigest())
	}
	if m.StatementDigest() != signed.StatementDigest() {
		t.Fatalf("statement digests differ")
	}
	if !reflect.DeepEqual(m.Resources(), signed.Resources()) {
		t.Fatalf("resources differ")
	}
	return m, bundle
}

type wantChange struct {
	kind ManifestChangeKind
	path string
}

func expectDiff(t *testing.T, d *ManifestDiff, want ...wantChange) {
	t.Helper()
	if d == nil {
		t.Fatal("no diff")
	}
	if d.Len() != len(want) {
		t.Fatalf("diff has %d items, want %d: %+v", d.Len(), len(want), d.Items)
	}
	for i, w := range want {
		if d.Items[i].Kind != w.kind || d.Items[i].Path != w.path {
			t.Errorf("diff[%d] = %v %q, want %v %q", i, d.Items[i].Kind, d.Items[i].Path, w.kind, w.path)
		}
	}
	// The JSON says the same.
	var j map[string][]any
	if err := json.Unmarshal(d.JSON(), &j); err != nil {
		t.Fatalf("diff JSON %s: %v", d.JSON(), err)
	}
	n := 0
	for _, v := range j {
		n += len(v)
	}
	if n != len(want) {
		t.Errorf("diff JSON %s lists %d changes, want %d", d.JSON(), n, len(want))
	}
}

func wantMismatch(t *testing.T, what string, err error) {
	t.Helper()
	wantStatus(t, what, err, StatusManifestMismatch)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("%s: %v does not match ErrAuth", what, err)
	}
}

func openDir(t *testing.T, path string) *os.File {
	t.Helper()
	d, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestManifestConstants(t *testing.T) {
	if ManifestBundleMaxLen() != ManifestBundleMax || ManifestBundleMax != 64<<20 {
		t.Errorf("bundle max %d / %d", ManifestBundleMaxLen(), ManifestBundleMax)
	}
	if ManifestResourcesMaxLen() != ManifestResourcesMax || ManifestResourcesMax != 1<<20 {
		t.Errorf("resources max %d / %d", ManifestResourcesMaxLen(), ManifestResourcesMax)
	}
	for s, k := range map[Status]Kind{
		StatusManifestMismatch: KindAuth, StatusManifestChain: KindAuth,
		StatusManifestNotSigned: KindNotFound, StatusManifestUnverified: KindState,
		StatusManifestSpecialFile: KindInvalid, StatusManifestChanged: KindIO,
	} {
		if s.Kind() != k {
			t.Errorf("%v: kind %v, want %v", s, s.Kind(), k)
		}
	}
	names := map[string]string{
		ManifestProfileModelSigning1.String(): "model-signing-1", ManifestProfileOMS10.String(): "oms-1.0",
		ManifestFiles.String(): "files", ManifestShards.String(): "shards",
		ManifestMissing.String(): "missing", ManifestExtra.String(): "extra",
		ManifestModified.String(): "modified", ManifestExtraEmpty.String(): "extra_empty",
		ManifestMethod(9).String(): "ManifestMethod(9)",
	}
	for got, want := range names {
		if got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestManifestSignVerifyDir(t *testing.T) {
	f := newMfFixture(t)
	for _, k := range []*Key{f.p256, f.p384, f.ed} {
		m, _ := f.signVerify(t, nil, k, k)
		if m.Method() != ManifestFiles || m.ShardSize() != 0 || m.HashType() != "sha256" ||
			m.Profile() != ManifestProfileModelSigning1 || m.ResourceCount() != 5 {
			t.Fatalf("%v: method %v shard %d hash %q profile %v count %d", k, m.Method(), m.ShardSize(),
				m.HashType(), m.Profile(), m.ResourceCount())
		}
		if m.SubjectName() != "my model" {
			t.Errorf("subject %q, want the directory's name", m.SubjectName())
		}
		// Resources: every file, with its SHA-256; the root is SHA-256
		// over the digests in order (MANIFEST.md 6).
		root := sha256.New()
		seen := map[string]bool{}
		for _, r := range m.Resources() {
			data, err := os.ReadFile(filepath.Join(f.model, filepath.FromSlash(r.Name)))
			if err != nil {
				t.Fatalf("resource %q: %v", r.Name, err)
			}
			if sum := sha256.Sum256(data); !bytes.Equal(r.Digest, sum[:]) {
				t.Errorf("resource %q: digest %x, want %x", r.Name, r.Digest, sum)
			}
			if r.Start != 0 || r.End != math.MaxUint64 {
				t.Errorf("resource %q: range %d..%d", r.Name, r.Start, r.End)
			}
			seen[r.Name] = true
			root.Write(r.Digest)
		}
		for _, name := range []string{"config.json", "weights/part-1.bin", mfCafe, "empty", "a/b/c/deep.txt"} {
			if !seen[name] {
				t.Errorf("no resource %q", name)
			}
		}
		if got := m.RootDigest(); !bytes.Equal(got[:], root.Sum(nil)) {
			t.Errorf("root %x is not the hash of the resource digests", got)
		}
		r0, err := m.Resource(0)
		if err != nil || !reflect.DeepEqual(r0, m.Resources()[0]) {
			t.Errorf("Resource(0) = %+v, %v", r0, err)
		}
		_, err = m.Resource(5)
		wantStatus(t, "Resource(5)", err, StatusInvalidArgument)
		_, err = m.Resource(-1)
		wantStatus(t, "Resource(-1)", err, StatusInvalidArgument)

		d, err := m.VerifyDir(f.model, nil)
		if err != nil {
			t.Fatalf("VerifyDir: %v", err)
		}
		expectDiff(t, d)
		if string(d.JSON()) != mfEmptyDiffStr {
			t.Errorf("diff JSON %s", d.JSON())
		}
	}

	// The public key alone verifies; another key does not, and no
	// manifest comes back.
	bundle, signed, err := SignManifest(f.model, f.p256, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer signed.Close()
	m, err := VerifyManifestKey(bundle, f.pub256, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := m.RootDigest()
	// The signer's trust: verified here, the signer's own view there
	// (the key method checks no chain: no checked_at).
	sg, err := m.Signer()
	if err != nil || sg.Trust != ManifestTrustVerified || sg.Method != "key" || len(sg.Hint) != 64 || sg.CheckedAt != 0 {
		t.Errorf("verified signer %+v, %v", sg, err)
	}
	if ss, err := signed.Signer(); err != nil || ss.Trust != ManifestTrustSignedHere || ss.Hint != sg.Hint || ss.CheckedAt != 0 {
		t.Errorf("signed-here signer %+v, %v", ss, err)
	}
	m.Close()
	m, err = VerifyManifestKey(bundle, f.p384, nil)
	wantStatus(t, "another key", err, StatusManifestKeyMismatch)
	if m != nil {
		t.Error("a manifest came back with the error")
	}
	// Without the hint check the signature itself fails.
	_, err = VerifyManifestKey(bundle, f.p384, &ManifestVerifyOptions{Flags: ManifestVerifyIgnoreHint})
	wantStatus(t, "another key, hint ignored", err, StatusAuth)
	// A changed byte of the bundle.
	bad := bytes.Replace(bundle, []byte(`"sig":"`), []byte(`"sig":"A`), 1)
	if _, err = VerifyManifestKey(bad, f.pub256, nil); err == nil {
		t.Error("a changed signature verified")
	}
	// OpenManifest parses without trust.
	om, err := OpenManifest(bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer om.Close()
	if om.Verified() || om.Flags() != 0 || om.RootDigest() != root {
		t.Errorf("OpenManifest: verified %v, flags %#x", om.Verified(), om.Flags())
	}
	if us, err := om.Signer(); err != nil || us.Trust != ManifestTrustUnverified || us.Method != "key" || us.Hint != sg.Hint {
		t.Errorf("unverified signer %+v, %v", us, err)
	}
	if _, err := om.VerifyDir(f.model, nil); !errors.Is(err, StatusManifestUnverified) {
		t.Errorf("VerifyDir of an unverified manifest: %v", err)
	}
	if d, err := om.CompareDir(f.model, nil); err != nil || d.Len() != 0 {
		t.Errorf("CompareDir: %v, %v", d, err)
	}
}

func TestManifestDiffKinds(t *testing.T) {
	f := newMfFixture(t)
	m, _ := f.signVerify(t, nil, f.p256, f.pub256)
	away := filepath.Join(t.TempDir(), "moved-away")
	cafe := filepath.Join(f.model, filepath.FromSlash(mfCafe))

	mfWrite(t, f.model, "config.json", []byte(`{"layers": 3}`))
	mfWrite(t, f.model, "new file", []byte("x"))
	if err := os.Rename(cafe, away); err != nil {
		t.Fatal(err)
	}
	d, err := m.VerifyDir(f.model, nil)
	wantMismatch(t, "VerifyDir", err)
	expectDiff(t, d, wantChange{ManifestModified, "config.json"}, wantChange{ManifestExtra, "new file"},
		wantChange{ManifestMissing, mfCafe})
	if !strings.Contains(err.Error(), "1 missing, 1 extra, 1 modified") {
		t.Errorf("message %q", err)
	}
	// CompareDir says the same of a verified manifest.
	d, err = m.CompareDir(f.model, nil)
	wantMismatch(t, "CompareDir", err)
	if d.Len() != 3 {
		t.Errorf("CompareDir diff %+v", d.Items)
	}
	// IgnoreUnsigned: the extra file is not reported.
	d, err = m.VerifyDir(f.model, &ManifestVerifyOptions{Flags: ManifestVerifyIgnoreUnsigned})
	wantMismatch(t, "IgnoreUnsigned", err)
	expectDiff(t, d, wantChange{ManifestModified, "config.json"}, wantChange{ManifestMissing, mfCafe})
	// Ignoring paths (the options' packed list) hides changes.
	d, err = m.VerifyDir(f.model, &ManifestVerifyOptions{
		Flags: ManifestVerifyIgnoreUnsigned,
		Hash:  ManifestHashOptions{IgnorePaths: []string{"config.json", "weights"}, Threads: 2},
	})
	expectDiff(t, d, wantChange{ManifestMissing, "config.json"}, wantChange{ManifestMissing, mfCafe},
		wantChange{ManifestMissing, "weights/part-1.bin"}) // ' ' sorts before '-'
	wantMismatch(t, "ignore paths", err)

	// Put it all back: verifies again.
	if err := os.Rename(away, cafe); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.model, "new file")); err != nil {
		t.Fatal(err)
	}
	mfWrite(t, f.model, "config.json", []byte(`{"layers": 2}`))
	if d, err := m.VerifyDir(f.model, nil); err != nil || d.Len() != 0 {
		t.Fatalf("restored: %v %+v", err, d)
	}
	// A model that is not there: no diff, ErrNotFound.
	d, err = m.VerifyDir(filepath.Join(f.model, "nope"), nil)
	wantStatus(t, "missing model", err, StatusNotFound)
	if d != nil {
		t.Error("a diff came back with a walk failure")
	}
}

func TestManifestShards(t *testing.T) {
	f := newMfFixture(t)
	m, _ := f.signVerify(t, &ManifestSignOptions{Method: ManifestShards, ShardSize: 1 << 20}, f.p256, f.pub256)
	if m.Method() != ManifestShards || m.ShardSize() != 1<<20 {
		t.Fatalf("method %v shard size %d", m.Method(), m.ShardSize())
	}
	// 3 MiB: 3 shards; 3 small files; no resource for the empty file.
	if m.ResourceCount() != 6 {
		t.Fatalf("%d resources", m.ResourceCount())
	}
	shards := 0
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Name, "weights/part-1.bin:") {
			want := "weights/part-1.bin:" + itoa(r.Start) + ":" + itoa(r.End)
			if r.Name != want || r.End-r.Start != 1<<20 {
				t.Errorf("shard %q %d..%d", r.Name, r.Start, r.End)
			}
			sum := sha256.Sum256(f.big[r.Start:r.End])
			if !bytes.Equal(r.Digest, sum[:]) {
				t.Errorf("shard %q digest", r.Name)
			}
			shards++
		}
	}
	if shards != 3 {
		t.Errorf("%d shards of part-1.bin", shards)
	}
	d, err := m.VerifyDir(f.model, nil)
	if err != nil {
		t.Fatal(err)
	}
	expectDiff(t, d, wantChange{ManifestExtraEmpty, "empty"})
	_, err = m.VerifyDir(f.model, &ManifestVerifyOptions{Flags: ManifestVerifyStrictEmpty})
	wantMismatch(t, "StrictEmpty", err)

	// One byte changed in the third MiB: modified from 2 MiB on.
	big := filepath.Join(f.model, "weights", "part-1.bin")
	wf, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	if _, err := wf.WriteAt([]byte("X"), 2<<20+5); err != nil {
		t.Fatal(err)
	}
	d, err = m.VerifyDir(f.model, nil)
	wantMismatch(t, "modified shard", err)
	found := 0
	for _, c := range d.Items {
		if c.Kind == ManifestModified {
			if c.Path != "weights/part-1.bin" || c.FirstBadOffset != 2<<20 {
				t.Errorf("modified %+v", c)
			}
			found++
		}
	}
	if found != 1 {
		t.Errorf("diff %+v", d.Items)
	}

	// Incremental: the first two MiB still verify, the third does not.
	root := openDir(t, f.model)
	if err := m.VerifyRange(root, "weights/part-1.bin", 0, 2<<20, nil); err != nil {
		t.Errorf("first two shards: %v", err)
	}
	if err := m.VerifyRange(root, "weights/part-1.bin", 100, 1000, &ManifestHashOptions{ReadSize: 64 << 10}); err != nil {
		t.Errorf("inside the first shard: %v", err)
	}
	wantMismatch(t, "across shards 2 and 3", m.VerifyRange(root, "weights/part-1.bin", 2<<20-1, 2, nil))
	wantStatus(t, "past the end", m.VerifyRange(root, "weights/part-1.bin", 0, 4<<20, nil), StatusManifestNotSigned)
	wantMismatch(t, "VerifyFile", m.VerifyFile(root, "weights/part-1.bin", nil))
	if err := m.VerifyFile(root, "config.json", nil); err != nil {
		t.Errorf("config.json: %v", err)
	}
	err = m.VerifyFile(root, "empty", nil)
	wantStatus(t, "empty file", err, StatusManifestNotSigned)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("not signed: %v is not ErrNotFound", err)
	}
	// Truncated: a different size fails at once.
	if err := wf.Truncate(3 << 19); err != nil {
		t.Fatal(err)
	}
	wantMismatch(t, "truncated", m.VerifyRange(root, "weights/part-1.bin", 0, 10, nil))
	// A regular file is no directory root.
	rf, err := os.Open(filepath.Join(f.model, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if err := m.VerifyFile(rf, "config.json", nil); err == nil {
		t.Error("VerifyFile beneath a regular file succeeded")
	}
	wantStatus(t, "nil root", m.VerifyFile(nil, "config.json", nil), StatusInvalidArgument)
}

func itoa(v uint64) string { return big.NewInt(0).SetUint64(v).String() }

// A stream hands out bytes through the verifier; ReadVerified only whole
// verified units.
func TestManifestStreams(t *testing.T) {
	f := newMfFixture(t)
	mf, _ := f.signVerify(t, nil, f.p256, f.pub256)
	ms, _ := f.signVerify(t, &ManifestSignOptions{Method: ManifestShards, ShardSize: 1 << 20}, f.p256, f.pub256)
	root := openDir(t, f.model)
	const rel = "weights/part-1.bin"

	// Files method: io.ReadAll reaches io.EOF only once the digest matched.
	s, err := mf.OpenStream(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != mfBigLen || s.UnitSize() != mfBigLen {
		t.Errorf("size %d unit %d", s.Size(), s.UnitSize())
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(s.Fd(), &st); err != nil || st.Size != mfBigLen {
		t.Errorf("Fd: fstat %v size %d", err, st.Size)
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, f.big) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	if err := s.Finish(); err != nil {
		t.Errorf("Finish after EOF: %v", err)
	}
	s.Close()
	s.Close()
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, ErrState) {
		t.Errorf("Read after Close: %v", err)
	}
	if s.Fd() != -1 || s.Size() != 0 {
		t.Errorf("after Close: fd %d size %d", s.Fd(), s.Size())
	}

	// Finish reads what the caller did not.
	s, err = mf.OpenStream(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]byte, 10)); n != 10 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	if err := s.Finish(); err != nil {
		t.Errorf("Finish: %v", err)
	}
	s.Close()

	// ReadVerified: the buffer must hold a unit.
	s, err = ms.OpenStream(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	if s.UnitSize() != 1<<20 {
		t.Errorf("unit size %d", s.UnitSize())
	}
	buf := make([]byte, 3<<20)
	_, err = s.ReadVerified(buf[:1000])
	wantStatus(t, "small buffer", err, StatusBufferTooSmall)
	n, err := s.ReadVerified(buf[:1<<20+10])
	if err != nil || n != 1<<20 || !bytes.Equal(buf[:n], f.big[:n]) {
		t.Fatalf("ReadVerified: %d, %v", n, err)
	}
	_, err = s.Read(buf[:10])
	wantStatus(t, "mixing the two reads", err, StatusState)
	if n, err = s.ReadVerified(buf); err != nil || n != 2<<20 || !bytes.Equal(buf[:n], f.big[1<<20:]) {
		t.Fatalf("ReadVerified rest: %d, %v", n, err)
	}
	if n, err = s.ReadVerified(buf); n != 0 || err != io.EOF {
		t.Fatalf("ReadVerified at the end: %d, %v", n, err)
	}
	s.Close()

	// A changed byte in the second shard: the first is handed out, the
	// second never is (zeroed), and the stream stays failed.
	writeByteAt(t, filepath.Join(f.model, rel), 1<<20+7)
	s, err = ms.OpenStream(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	if n, err = s.ReadVerified(buf[:1<<20]); err != nil || n != 1<<20 {
		t.Fatalf("first shard: %d, %v", n, err)
	}
	for i := range buf[:1<<20] {
		buf[i] = 0xAA
	}
	n, err = s.ReadVerified(buf[:1<<20])
	wantMismatch(t, "second shard", err)
	if n != 0 || bytes.IndexByte(buf[:1<<20], 0xAA) >= 0 {
		t.Errorf("a failed unit left %d bytes / unzeroed data", n)
	}
	_, err = s.ReadVerified(buf[:1<<20])
	wantMismatch(t, "stays failed", err)
	wantMismatch(t, "Finish after failure", s.Finish())
	s.Close()

	// Files method: Read hands the bytes out but never reaches io.EOF.
	s, err = mf.OpenStream(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(s)
	wantMismatch(t, "ReadAll of a changed file", err)
	wantMismatch(t, "Finish", s.Finish())
	s.Close()

	// Names the manifest does not hold, traversal, symlinks.
	_, err = mf.OpenStream(root, "nope")
	wantStatus(t, "unsigned name", err, StatusManifestNotSigned)
	_, err = mf.OpenStream(root, "../x")
	wantStatus(t, "..", err, StatusManifestPath)
	_, err = mf.OpenStream(root, "/etc/passwd")
	wantStatus(t, "absolute", err, StatusManifestPath)
	_, err = mf.OpenStream(root, "a\x00b")
	wantStatus(t, "NUL", err, StatusInvalidArgument)
	cfg := filepath.Join(f.model, "config.json")
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/c/deep.txt", cfg); err != nil {
		t.Fatal(err)
	}
	s, err = mf.OpenStream(root, "config.json")
	wantStatus(t, "symlink", err, StatusManifestSymlink)
	if s != nil {
		t.Error("a stream came back with the error")
	}
	os.Remove(cfg)

	// An unverified manifest cannot be used for incremental checks.
	f.big = mfMakeModel(t, f.model)
	h, err := HashManifest(f.model, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Flags()&(ManifestFlagSigned|ManifestFlagVerified) != 0 || h.Verified() {
		t.Errorf("hashed manifest flags %#x", h.Flags())
	}
	if h.RootDigest() != mf.RootDigest() {
		t.Errorf("HashManifest root %x, signed %x", h.RootDigest(), mf.RootDigest())
	}
	_, err = h.OpenStream(root, "config.json")
	wantStatus(t, "stream of an unverified manifest", err, StatusManifestUnverified)
	wantStatus(t, "VerifyFile of an unverified manifest", h.VerifyFile(root, "config.json", nil), StatusManifestUnverified)
	_, err = h.VerifyDir(f.model, nil)
	wantStatus(t, "VerifyDir of an unverified manifest", err, StatusManifestUnverified)
	if _, err := h.CompareDir(f.model, nil); err != nil {
		t.Errorf("CompareDir: %v", err)
	}
	if _, err := h.Signer(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Signer of a hashed manifest: %v", err)
	}
}

// Single-file models: root is the file itself and relPath ".".
func TestManifestSingleFile(t *testing.T) {
	f := newMfFixture(t)
	file := filepath.Join(f.model, "weights", "part-1.bin")
	bundle, _, err := SignManifest(file, f.p384, &ManifestSignOptions{SubjectName: "one file"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := VerifyManifestKey(bundle, f.p384, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Flags()&ManifestFlagSingleFile == 0 || m.SubjectName() != "one file" || m.ResourceCount() != 1 {
		t.Fatalf("flags %#x subject %q count %d", m.Flags(), m.SubjectName(), m.ResourceCount())
	}
	if _, err := m.VerifyDir(file, nil); err != nil {
		t.Errorf("VerifyDir: %v", err)
	}
	// A fresh descriptor for each call: with ".", libaios reads through a
	// dup of root, which shares its file offset (see the report).
	open := func() *os.File {
		rf, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rf.Close() })
		return rf
	}
	if err := m.VerifyFile(open(), ".", nil); err != nil {
		t.Errorf("VerifyFile(.): %v", err)
	}
	if err := m.VerifyRange(open(), ".", 5, 10, nil); err != nil {
		t.Errorf("VerifyRange(.): %v", err)
	}
	s, err := m.OpenStream(open(), ".")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, s.UnitSize())
	n, err := s.ReadVerified(buf)
	if err != nil || n != mfBigLen || !bytes.Equal(buf, f.big) {
		t.Errorf("ReadVerified: %d, %v", n, err)
	}
}

func TestManifestStatCache(t *testing.T) {
	f := newMfFixture(t)
	var hashed uint64
	opts := &ManifestSignOptions{
		StatCachePath: filepath.Join(t.TempDir(), "cache.json"),
		Hash: ManifestHashOptions{Progress: func(done, total uint64, path string) bool {
			hashed = max(hashed, done)
			return true
		}},
	}
	// A file changed within ~100 ms before a walk is never cached (it could
	// still change unseen in the same timestamp tick): let the model age.
	time.Sleep(300 * time.Millisecond)
	b1, m1, err := SignManifest(f.model, f.p256, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	if hashed < mfBigLen {
		t.Errorf("first signing hashed %d bytes", hashed)
	}
	// Nothing changed: nothing hashed, the same bundle (deterministic ECDSA).
	hashed = 0
	b2, _, err := SignManifest(f.model, f.p256, opts)
	if err != nil {
		t.Fatal(err)
	}
	if hashed != 0 || !bytes.Equal(b1, b2) {
		t.Errorf("unchanged model: hashed %d, same bundle %v", hashed, bytes.Equal(b1, b2))
	}
	// One small file changed: only it is hashed.
	mfWrite(t, f.model, "config.json", []byte(`{"layers": 4}`))
	hashed = 0
	b3, m3, err := SignManifest(f.model, f.p256, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	if hashed != uint64(len(`{"layers": 4}`)) {
		t.Errorf("one changed file: hashed %d", hashed)
	}
	if m3.RootDigest() == m1.RootDigest() {
		t.Error("the root did not change")
	}
	// ... and the result equals a full hash.
	full, err := HashManifest(f.model, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if full.RootDigest() != m3.RootDigest() {
		t.Error("the cached signing differs from a full hash")
	}
	// A garbage cache is ignored.
	if err := os.WriteFile(opts.StatCachePath, []byte(`{"aios_manifest_stat_cache":1,"files":[{]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	hashed = 0
	b4, _, err := SignManifest(f.model, f.p256, opts)
	if err != nil || hashed < mfBigLen || !bytes.Equal(b3, b4) {
		t.Errorf("garbage cache: %v, hashed %d", err, hashed)
	}
}

func TestManifestBundlePathAndProvenance(t *testing.T) {
	f := newMfFixture(t)
	sig := filepath.Join(f.model, "model.sig")
	prov := json.RawMessage(`{"v":1,"model":"m","version":"2.0","approver":"alice"}`)
	bundle, signed, err := SignManifest(f.model, f.p256, &ManifestSignOptions{
		BundlePath: sig, SubjectName: "my-model", Provenance: prov,
	})
	if err != nil {
		t.Fatal(err)
	}
	signed.Close()
	onDisk, err := ReadManifestBundle(sig, nil)
	if err != nil || !bytes.Equal(onDisk, bundle) {
		t.Fatalf("ReadManifestBundle: %v (same bytes %v)", err, bytes.Equal(onDisk, bundle))
	}
	m, err := VerifyManifestKey(onDisk, f.pub256, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.SubjectName() != "my-model" {
		t.Errorf("subject %q", m.SubjectName())
	}
	p, err := m.Provenance()
	if err != nil {
		t.Fatal(err)
	}
	var pv map[string]any
	if err := json.Unmarshal(p, &pv); err != nil || pv["approver"] != "alice" || pv["version"] != "2.0" {
		t.Errorf("provenance %s: %v", p, err)
	}
	// The bundle inside the model is excluded and recorded.
	if _, err := m.VerifyDir(f.model, nil); err != nil {
		t.Errorf("VerifyDir: %v", err)
	}
	j, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var show struct {
		Verified    bool     `json:"verified"`
		Subject     string   `json:"subject"`
		RootDigest  string   `json:"root_digest"`
		IgnorePaths []string `json:"ignore_paths"`
		Method      string   `json:"method"`
	}
	if err := json.Unmarshal(j, &show); err != nil {
		t.Fatalf("JSON %s: %v", j, err)
	}
	rd := m.RootDigest()
	if !show.Verified || show.Subject != "my-model" || show.RootDigest != hex.EncodeToString(rd[:]) ||
		!reflect.DeepEqual(show.IgnorePaths, []string{"model.sig"}) || show.Method != "files" {
		t.Errorf("JSON %s", j)
	}
	sg, err := m.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if sg.Method != "key" || len(sg.Hint) != 64 || !json.Valid(sg.Raw) {
		t.Errorf("signer %+v", sg)
	}
	// HashManifest honours BundlePath too: the bundle file inside the model
	// is left out (the root digest is the signed one), and nothing is
	// written; without it the file is one more resource.
	hb, err := HashManifest(f.model, &ManifestSignOptions{BundlePath: sig})
	if err != nil {
		t.Fatal(err)
	}
	hn, err := HashManifest(f.model, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hb.RootDigest() != m.RootDigest() || hb.ResourceCount() != m.ResourceCount() ||
		hn.ResourceCount() != m.ResourceCount()+1 || hn.RootDigest() == m.RootDigest() {
		t.Errorf("HashManifest: with BundlePath %d resources, without %d, signed %d; roots equal: %v, %v",
			hb.ResourceCount(), hn.ResourceCount(), m.ResourceCount(), hb.RootDigest() == m.RootDigest(),
			hn.RootDigest() == m.RootDigest())
	}
	for _, r := range hb.Resources() {
		if r.Name == "model.sig" {
			t.Error("HashManifest with BundlePath hashed the bundle")
		}
	}
	if again, err := ReadManifestBundle(sig, nil); err != nil || !bytes.Equal(again, bundle) {
		t.Errorf("HashManifest changed the bundle file: %v", err)
	}
	hb.Close()
	hn.Close()
	// The cap on reading, before anything is read.
	_, err = ReadManifestBundle(sig, &ManifestVerifyOptions{BundleMax: len(bundle) - 1})
	wantStatus(t, "BundleMax", err, StatusLimit)
	_, err = ReadManifestBundle(filepath.Join(f.model, "nope.sig"), nil)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing bundle file: %v", err)
	}
	if err := os.Remove(sig); err != nil {
		t.Fatal(err)
	}
	// No provenance: ErrNotFound.
	m2, _ := f.signVerify(t, nil, f.p256, f.pub256)
	_, err = m2.Provenance()
	wantStatus(t, "no provenance", err, StatusNotFound)
}

// A certificate chain made here (a P-256 CA and a leaf for the keyring's
// P-256 key) marshals through the options; the anchors through
// VerifyManifestCertificate.
func TestManifestCertificate(t *testing.T) {
	f := newMfFixture(t)
	pubPEM, err := f.p256.PublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(pubPEM))
	leafPub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	mkCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key, der
	}
	ca, caKey, caDER := mkCA("test root")
	_, _, otherDER := mkCA("other root")
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "model signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	bundle, signed, err := SignManifest(f.model, f.p256, &ManifestSignOptions{Chain: [][]byte{leafDER}})
	if err != nil {
		t.Fatalf("SignManifest with a chain: %v", err)
	}
	defer signed.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	m, err := VerifyManifestCertificate(bundle, [][]byte{otherDER, caPEM}, nil)
	if err != nil {
		t.Fatalf("VerifyManifestCertificate: %v", err)
	}
	defer m.Close()
	sg, err := m.Signer()
	if err != nil || sg.Method != "certificate" || !strings.Contains(sg.Subject, "model signer") ||
		!strings.Contains(sg.Issuer, "test root") || sg.Chain != 1 || sg.NotAfter <= sg.NotBefore {
		t.Errorf("signer %+v, %v", sg, err)
	}
	// What the signer rests on, and when the chain was found valid: the
	// leaf's notBefore by default (model-signing-1), else the policy's time.
	if sg.Trust != ManifestTrustVerified || sg.CheckedAt != leafTmpl.NotBefore.Unix() {
		t.Errorf("verified: trust %q, checked at %d, want %d", sg.Trust, sg.CheckedAt, leafTmpl.NotBefore.Unix())
	}
	fixed := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, c := range []struct {
		opts     *ManifestVerifyOptions
		min, max int64
	}{
		{&ManifestVerifyOptions{FixedTime: fixed}, fixed.Unix(), fixed.Unix()},
		{&ManifestVerifyOptions{TimePolicy: ManifestTimeNow}, time.Now().Unix(), time.Now().Unix() + 60},
	} {
		vm, err := VerifyManifestCertificate(bundle, [][]byte{caDER}, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if vs, err := vm.Signer(); err != nil || vs.Trust != ManifestTrustVerified || vs.CheckedAt < c.min || vs.CheckedAt > c.max {
			t.Errorf("policy %d: signer %+v, %v; want checked_at in %d..%d", c.opts.TimePolicy, vs, err, c.min, c.max)
		}
		vm.Close()
	}
	// The signer's own view and an unverified bundle: no chain checked.
	if ss, err := signed.Signer(); err != nil || ss.Trust != ManifestTrustSignedHere || ss.CheckedAt != 0 ||
		ss.Method != "certificate" || ss.Subject != sg.Subject {
		t.Errorf("signed here: %+v, %v", ss, err)
	}
	om, err := OpenManifest(bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if us, err := om.Signer(); err != nil || us.Trust != ManifestTrustUnverified || us.CheckedAt != 0 ||
		us.Method != "certificate" || us.Subject != sg.Subject {
		t.Errorf("opened: %+v, %v", us, err)
	}
	om.Close()
	if _, err := m.VerifyDir(f.model, nil); err != nil {
		t.Errorf("VerifyDir: %v", err)
	}
	_, err = VerifyManifestCertificate(bundle, [][]byte{otherDER}, nil)
	wantStatus(t, "another anchor", err, StatusManifestChain)
	_, err = VerifyManifestCertificate(bundle, nil, nil)
	wantStatus(t, "no anchor", err, StatusInvalidArgument)
	_, err = VerifyManifestKey(bundle, f.pub256, nil)
	wantStatus(t, "key method on a certificate bundle", err, StatusManifestMethod)
	// A certificate for another key.
	_, _, err = SignManifest(f.model, f.p384, &ManifestSignOptions{Chain: [][]byte{leafDER}})
	if err == nil {
		t.Error("signing with a certificate of another key succeeded")
	}
	// The time policy: fixed before the chain's validity.
	_, err = VerifyManifestCertificate(bundle, [][]byte{caDER}, &ManifestVerifyOptions{
		TimePolicy: ManifestTimeFixed, FixedTime: time.Now().Add(-48 * time.Hour),
	})
	wantStatus(t, "fixed time before notBefore", err, StatusManifestChain)
	if _, err := VerifyManifestCertificate(bundle, [][]byte{caDER}, &ManifestVerifyOptions{
		TimePolicy: ManifestTimeNow,
	}); err != nil {
		t.Errorf("time now: %v", err)
	}
	// FixedTime is never ignored: alone it selects ManifestTimeFixed, so a
	// time a year after the leaf's notAfter fails, and one inside the
	// validity passes.
	later := time.Now().Add(365 * 24 * time.Hour)
	_, err = VerifyManifestCertificate(bundle, [][]byte{caDER}, &ManifestVerifyOptions{FixedTime: later})
	wantStatus(t, "FixedTime after notAfter, TimePolicy unset", err, StatusManifestChain)
	_, err = VerifyManifestCertificate(bundle, [][]byte{caDER}, &ManifestVerifyOptions{
		TimePolicy: ManifestTimeFixed, FixedTime: later,
	})
	wantStatus(t, "FixedTime after notAfter, ManifestTimeFixed", err, StatusManifestChain)
	if fm, err := VerifyManifestCertificate(bundle, [][]byte{caDER}, &ManifestVerifyOptions{
		FixedTime: time.Now().Add(time.Hour),
	}); err != nil {
		t.Errorf("FixedTime within the validity: %v", err)
	} else {
		fm.Close()
	}
	// With another explicit policy it contradicts it; and the fixed
	// policy needs a time. Both before any C call, VerifyDir too.
	for _, o := range []*ManifestVerifyOptions{
		{TimePolicy: ManifestTimeNow, FixedTime: later},
		{TimePolicy: ManifestTimeLeafNotBefore, FixedTime: later},
		{TimePolicy: ManifestTimeFixed},
	} {
		_, err = VerifyManifestCertificate(bundle, [][]byte{caDER}, o)
		wantStatus(t, "TimePolicy "+itoa(uint64(o.TimePolicy))+" with FixedTime "+o.FixedTime.String(), err,
			StatusInvalidArgument)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%v is not ErrInvalid", err)
		}
		_, err = m.VerifyDir(f.model, o)
		wantStatus(t, "VerifyDir with a contradicting time", err, StatusInvalidArgument)
	}
}

// The golden bundles of model_signing (../shared/vectors/oms,
// docs/MANIFEST_VECTORS.md 2.2).
func TestManifestGolden(t *testing.T) {
	dir := omsVectorDir()
	pemFile, err := os.ReadFile(filepath.Join(dir, "keys", "certificate", "signing-key-pub.pem"))
	if err != nil {
		t.Fatalf("the OMS vectors are part of the checkout's environment: %v", err)
	}
	// The file starts with a text dump; the PEM block follows.
	i := bytes.Index(pemFile, []byte("-----BEGIN"))
	if i < 0 {
		t.Fatal("no PEM block in signing-key-pub.pem")
	}
	key, err := KeyFromPublicPEM(string(pemFile[i:]), "golden")
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()

	ellipticWant := map[string]struct {
		model  string // relative to the folder; "" = the folder
		root   string
		ignore []string
	}{
		"v0.3.1-elliptic-key": {"signme-1", rootS1nSingle, nil},
		"v1.0.0-elliptic-key": {"signme-1", rootS1nSingle, nil},
		"v1.0.1-elliptic-key": {"", rootS1nS2, []string{"ignore-me"}},
		"v1.1.0-elliptic-key": {"", rootS1nS2, nil},
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*-elliptic-key"))
	if len(matches) != len(ellipticWant) {
		t.Fatalf("%d elliptic-key folders, want %d", len(matches), len(ellipticWant))
	}
	for _, folder := range matches {
		name := filepath.Base(folder)
		want, ok := ellipticWant[name]
		if !ok {
			t.Errorf("unexpected folder %s", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			sigPath := filepath.Join(folder, "model.sig")
			bundle, err := ReadManifestBundle(sigPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := VerifyManifestKey(bundle, key, nil)
			if err != nil {
				t.Fatalf("VerifyManifestKey: %v", err)
			}
			defer m.Close()
			if rd := m.RootDigest(); hex.EncodeToString(rd[:]) != want.root {
				t.Errorf("root %x, want %s", rd, want.root)
			}
			model := folder
			if want.model != "" {
				model = filepath.Join(folder, want.model)
				if m.Flags()&ManifestFlagSingleFile == 0 {
					t.Errorf("flags %#x: not a single-file model", m.Flags())
				}
			}
			opts := &ManifestVerifyOptions{BundlePath: sigPath, Hash: ManifestHashOptions{IgnorePaths: want.ignore}}
			d, err := m.VerifyDir(model, opts)
			if err != nil || d.Len() != 0 {
				t.Fatalf("VerifyDir(%s): %v %+v", model, err, d)
			}
			if name == "v1.0.1-elliptic-key" {
				// Without the ignore path, ignore-me is extra.
				d, err = m.VerifyDir(model, &ManifestVerifyOptions{BundlePath: sigPath})
				wantMismatch(t, "without ignore-me", err)
				expectDiff(t, d, wantChange{ManifestExtra, "ignore-me"})
			}
			if sg, err := m.Signer(); err != nil || sg.Method != "key" {
				t.Errorf("signer %+v %v", sg, err)
			} else if sg.Hint != "" && sg.Hint != goldenKeyHint {
				t.Errorf("hint %s", sg.Hint)
			}
		})
	}

	// Certificate bundles against the test CA; legacy 0.2.0 included.
	caPEM, err := os.ReadFile(filepath.Join(dir, "keys", "certificate", "ca-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := filepath.Glob(filepath.Join(dir, "*-certificate"))
	if len(certs) != 5 {
		t.Fatalf("%d certificate folders", len(certs))
	}
	for _, folder := range certs {
		name := filepath.Base(folder)
		t.Run(name, func(t *testing.T) {
			sigPath := filepath.Join(folder, "model.sig")
			bundle, err := ReadManifestBundle(sigPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := VerifyManifestCertificate(bundle, [][]byte{caPEM}, nil)
			if err != nil {
				t.Fatalf("VerifyManifestCertificate: %v", err)
			}
			defer m.Close()
			if rd := m.RootDigest(); hex.EncodeToString(rd[:]) != rootS1S2 {
				t.Errorf("root %x", rd)
			}
			if legacy := m.Flags()&ManifestFlagLegacy != 0; legacy != (name == "v0.2.0-certificate") {
				t.Errorf("legacy flag %v", legacy)
			}
			opts := &ManifestVerifyOptions{BundlePath: sigPath}
			if name == "v1.0.1-certificate" {
				opts.Hash.IgnorePaths = []string{"ignore-me"}
			}
			if d, err := m.VerifyDir(folder, opts); err != nil || d.Len() != 0 {
				t.Errorf("VerifyDir: %v %+v", err, d)
			}
			_, err = VerifyManifestKey(bundle, key, nil)
			wantStatus(t, "key method", err, StatusManifestMethod)
		})
	}

	// Keyless bundles parse, are never verified, and compare clean.
	keyless, _ := filepath.Glob(filepath.Join(dir, "*-sigstore"))
	for _, folder := range keyless {
		name := filepath.Base(folder)
		t.Run(name, func(t *testing.T) {
			sigPath := filepath.Join(folder, "model.sig")
			bundle, err := ReadManifestBundle(sigPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := OpenManifest(bundle, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Verified() || m.Flags()&ManifestFlagKeyless == 0 {
				t.Errorf("verified %v flags %#x", m.Verified(), m.Flags())
			}
			opts := &ManifestVerifyOptions{BundlePath: sigPath}
			if name == "v1.0.1-sigstore" {
				opts.Hash.IgnorePaths = []string{"ignore-me"}
			}
			if d, err := m.CompareDir(folder, opts); err != nil || d.Len() != 0 {
				t.Errorf("CompareDir: %v %+v", err, d)
			}
			_, err = m.VerifyDir(folder, opts)
			wantStatus(t, "VerifyDir of a keyless bundle", err, StatusManifestUnverified)

			// VerifyManifestSigstore: refusals without Sigstore's root ...
			_, err = VerifyManifestSigstore(bundle, []byte("{}"), sigstoreIdentity, sigstoreIssuer, nil)
			wantStatus(t, "a trusted root that is not one", err, StatusFormat)
			_, err = VerifyManifestSigstore(bundle, []byte("{}"), "", sigstoreIssuer, nil)
			wantStatus(t, "no identity", err, StatusInvalidArgument)
			_, err = VerifyManifestSigstore(bundle, nil, sigstoreIdentity, sigstoreIssuer, nil)
			wantStatus(t, "no trusted root", err, StatusInvalidArgument)
			// ... and with it: verified, the model clean, another identity refused.
			root := sigstoreTrustedRoot(t)
			v, err := VerifyManifestSigstore(bundle, root, sigstoreIdentity, sigstoreIssuer, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if !v.Verified() || v.Flags()&ManifestFlagKeyless == 0 {
				t.Errorf("verified %v flags %#x", v.Verified(), v.Flags())
			}
			// who and when: the log's time, and the timestamp authority's
			// where the bundle carries an RFC 3161 timestamp (1.1.0 on)
			if sg, err := v.Signer(); err != nil || sg.Method != "keyless" || sg.Trust != ManifestTrustVerified ||
				sg.Identity != sigstoreIdentity || sg.OIDCIssuer != sigstoreIssuer ||
				sg.LogIndex <= 0 || sg.IntegratedTime < sg.NotBefore || sg.IntegratedTime > sg.NotAfter ||
				(bytes.Contains(bundle, []byte("rfc3161Timestamps")) &&
					(sg.Timestamp < sg.NotBefore || sg.Timestamp > sg.NotAfter)) {
				t.Errorf("signer: %v %+v", err, sg)
			}
			if d, err := v.VerifyDir(folder, opts); err != nil || d.Len() != 0 {
				t.Errorf("VerifyDir: %v %+v", err, d)
			}
			_, err = VerifyManifestSigstore(bundle, root, "someone@example.com", sigstoreIssuer, nil)
			wantStatus(t, "another identity", err, StatusManifestKeyMismatch)
			if !errors.Is(err, ErrAuth) {
				t.Errorf("another identity: %v is not ErrAuth", err)
			}
			// the client trust config that `model_signing verify sigstore
			// --trust_config` reads, holding the same root, verifies alike
			cfg := []byte(`{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",` +
				`"signingConfig":{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"},` +
				`"trustedRoot":` + string(root) + `}`)
			if c, err := VerifyManifestSigstore(bundle, cfg, sigstoreIdentity, sigstoreIssuer, nil); err != nil {
				t.Errorf("client trust config: %v", err)
			} else {
				c.Close()
			}
			noRoot := bytes.Replace(cfg, []byte(`"trustedRoot"`), []byte(`"trustedRoots"`), 1)
			_, err = VerifyManifestSigstore(bundle, noRoot, sigstoreIdentity, sigstoreIssuer, nil)
			wantStatus(t, "a client trust config without its trusted root", err, StatusFormat)
		})
	}
}

const (
	sigstoreIdentity = "stefanb@us.ibm.com"
	sigstoreIssuer   = "https://sigstore.verify.ibm.com/oauth2"
)

// sigstoreTrustedRoot is Sigstore's production trusted root as the sigstore
// package (installed with model_signing in build/venv-oms) ships it:
// AIOS_TEST_SIGSTORE_ROOT names it (scripts/test sets it), else it is
// looked for in build/venv-oms.
func sigstoreTrustedRoot(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("AIOS_TEST_SIGSTORE_ROOT")
	if path == "" {
		found, _ := filepath.Glob(filepath.Join("..", "..", "build", "venv-oms", "lib", "python3*",
			"site-packages", "sigstore", "_store", "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
			"trusted_root.json"))
		if len(found) == 0 {
			t.Skip("no Sigstore trusted root: set AIOS_TEST_SIGSTORE_ROOT (scripts/test does)")
		}
		path = found[0]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A changed copy of a golden folder fails with the diff
// MANIFEST_VECTORS.md 2.2 names.
func TestManifestGoldenTampered(t *testing.T) {
	src := filepath.Join(omsVectorDir(), "v1.1.0-elliptic-key")
	pemFile, err := os.ReadFile(filepath.Join(omsVectorDir(), "keys", "certificate", "signing-key-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := KeyFromPublicPEM(string(pemFile[bytes.Index(pemFile, []byte("-----BEGIN")):]), "")
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	dir := t.TempDir()
	for _, name := range []string{"model.sig", "signme-1", "signme-2", "ignore-me"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		mfWrite(t, dir, name, b)
	}
	bundle, err := ReadManifestBundle(filepath.Join(dir, "model.sig"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := VerifyManifestKey(bundle, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mfWrite(t, dir, "ignore-me", []byte("changed, but ignored"))
	mfWrite(t, dir, "signme-1", []byte("signme-X\n"))
	os.Remove(filepath.Join(dir, "signme-2"))
	mfWrite(t, dir, "extra", nil)
	d, err := m.VerifyDir(dir, nil)
	wantMismatch(t, "tampered copy", err)
	expectDiff(t, d, wantChange{ManifestExtra, "extra"}, wantChange{ManifestModified, "signme-1"},
		wantChange{ManifestMissing, "signme-2"})
	// Another P-384 key: the hint says so before any signature check.
	kr, _ := newKeyring(t)
	other := mustAdd(t, kr, "other", KeyECDSAP384, KeySpec{})
	_, err = VerifyManifestKey(bundle, other, nil)
	wantStatus(t, "wrong key", err, StatusManifestKeyMismatch)
}

func TestManifestBadInput(t *testing.T) {
	f := newMfFixture(t)
	empty := t.TempDir()
	_, err := VerifyManifestKey([]byte("{}"), f.pub256, nil)
	wantStatus(t, "{}", err, StatusFormat)
	_, err = VerifyManifestKey(nil, f.pub256, nil)
	wantStatus(t, "empty bundle", err, StatusFormat)
	_, err = OpenManifest([]byte("not json"), nil)
	wantStatus(t, "OpenManifest", err, StatusFormat)
	_, _, err = SignManifest(empty, f.p256, nil)
	wantStatus(t, "empty model", err, StatusManifestEmpty)
	_, _, err = SignManifest(filepath.Join(empty, "nope"), f.p256, nil)
	wantStatus(t, "no model", err, StatusNotFound)
	_, _, err = SignManifest(f.model, f.pub256, nil)
	wantStatus(t, "a public key signs", err, StatusKeyUsage)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Method: 7})
	wantStatus(t, "method 7", err, StatusInvalidArgument)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Method: ManifestShards, ShardSize: 1000})
	wantStatus(t, "tiny shards", err, StatusInvalidArgument)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{HashType: "md5"})
	wantStatus(t, "md5", err, StatusUnsupported)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Provenance: json.RawMessage(`[1]`)})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("provenance that is no object: %v", err)
	}
	_, _, err = SignManifest(f.model, f.ed, &ManifestSignOptions{Profile: ManifestProfileOMS10})
	if err == nil {
		t.Error("Ed25519 signed in profile oms-1.0")
	}
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Hash: ManifestHashOptions{IgnorePaths: []string{"../x"}}})
	wantStatus(t, "ignore path ..", err, StatusManifestPath)
	// Go-side checks: NUL bytes, nil and closed handles, negative sizes.
	_, _, err = SignManifest(f.model+"\x00x", f.p256, nil)
	wantStatus(t, "NUL in the path", err, StatusInvalidArgument)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{SubjectName: "a\x00b"})
	wantStatus(t, "NUL in the subject", err, StatusInvalidArgument)
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Hash: ManifestHashOptions{IgnorePaths: []string{"a\x00"}}})
	wantStatus(t, "NUL in an ignore path", err, StatusInvalidArgument)
	_, _, err = SignManifest(f.model, nil, nil)
	wantStatus(t, "nil key", err, StatusInvalidArgument)
	_, err = VerifyManifestKey([]byte("{}"), nil, nil)
	wantStatus(t, "nil key", err, StatusInvalidArgument)
	_, err = OpenManifest([]byte("{}"), &ManifestVerifyOptions{BundleMax: -1})
	wantStatus(t, "negative BundleMax", err, StatusInvalidArgument)
	kr, _ := newKeyring(t)
	closed, err := kr.Add("closed", KeyECDSAP256, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	_, _, err = SignManifest(f.model, closed, nil)
	wantStatus(t, "closed key", err, StatusState)

	// The bundle size cap, before parsing.
	bundle, m, err := SignManifest(f.model, f.p256, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = VerifyManifestKey(bundle, f.pub256, &ManifestVerifyOptions{BundleMax: len(bundle) - 1})
	wantStatus(t, "BundleMax", err, StatusLimit)
	// A certificate call on a key bundle.
	_, err = VerifyManifestCertificate(bundle, nil, nil)
	wantStatus(t, "no anchors", err, StatusInvalidArgument)
	if _, err = VerifyManifestCertificate(bundle, [][]byte{[]byte("x")}, nil); err == nil {
		t.Error("a key bundle verified as a certificate bundle")
	}
	// A special file in the model.
	mfWrite(t, empty, "x", []byte("x"))
	if err := syscall.Mkfifo(filepath.Join(empty, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = SignManifest(empty, f.p256, nil)
	wantStatus(t, "a FIFO", err, StatusManifestSpecialFile)

	// A closed manifest: ErrState, zero values, no crash.
	root := openDir(t, f.model)
	m2, err := m.Ref()
	if err != nil {
		t.Fatal(err)
	}
	rd := m.RootDigest()
	m.Close()
	m.Close()
	if m.Verified() || m.Flags() != 0 || m.RootDigest() != ([32]byte{}) || m.SubjectName() != "" ||
		m.ResourceCount() != 0 || m.Resources() != nil || m.HashType() != "" {
		t.Error("getters of a closed manifest return values")
	}
	for what, err := range map[string]error{
		"VerifyFile": m.VerifyFile(root, "config.json", nil),
		"VerifyDir":  second(m.VerifyDir(f.model, nil)),
		"OpenStream": second(m.OpenStream(root, "config.json")),
		"JSON":       second(m.JSON()),
		"Ref":        second(m.Ref()),
		"Resource":   second(m.Resource(0)),
	} {
		wantStatus(t, what+" after Close", err, StatusState)
	}
	// The other reference still works.
	if m2.RootDigest() != rd || m2.ResourceCount() != 5 {
		t.Error("Ref's manifest lost its data")
	}
	m2.Close()
	var nilM *Manifest
	if nilM.Close() != nil || nilM.Verified() {
		t.Error("nil manifest")
	}
	wantStatus(t, "nil manifest", nilM.VerifyFile(root, "x", nil), StatusInvalidArgument)
}

func second[T any](_ T, err error) error { return err }

// Progress runs on the library's hashing threads: a function that keeps
// plain state needs no locks (under -race), sees totals, can cancel, and
// a panic comes back on the calling goroutine.
func TestManifestProgress(t *testing.T) {
	f := newMfFixture(t)
	// More files, so several threads hash at once.
	for i := 0; i < 16; i++ {
		mfWrite(t, f.model, "more/f"+itoa(uint64(i)), bytes.Repeat([]byte{byte(i)}, 300<<10))
	}
	modelBytes := uint64(mfModelBytes + 16*(300<<10))
	var calls int
	var maxDone, lastTotal uint64
	paths := map[string]bool{}
	progress := func(done, total uint64, path string) bool {
		calls++ // no lock: the binding serialises the calls
		maxDone = max(maxDone, done)
		lastTotal = total
		paths[path] = true
		return true
	}
	opts := &ManifestSignOptions{Hash: ManifestHashOptions{Threads: 4, ReadSize: 64 << 10, Progress: progress}}
	bundle, _, err := SignManifest(f.model, f.p256, opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 || maxDone != modelBytes || lastTotal != modelBytes || len(paths) < 2 {
		t.Errorf("progress: %d calls, max done %d, total %d (want %d), %d paths", calls, maxDone, lastTotal,
			modelBytes, len(paths))
	}
	m, err := VerifyManifestKey(bundle, f.pub256, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// VerifyDir, HashManifest, VerifyFile and VerifyRange report too.
	calls, maxDone = 0, 0
	if _, err := m.VerifyDir(f.model, &ManifestVerifyOptions{Hash: opts.Hash}); err != nil || calls == 0 || maxDone != modelBytes {
		t.Errorf("VerifyDir progress: %v, %d calls, %d bytes", err, calls, maxDone)
	}
	calls, maxDone = 0, 0
	if h, err := HashManifest(f.model, opts); err != nil || calls == 0 || h.RootDigest() != m.RootDigest() {
		t.Errorf("HashManifest progress: %v, %d calls", err, calls)
	} else {
		h.Close()
	}
	root := openDir(t, f.model)
	calls, maxDone = 0, 0
	if err := m.VerifyFile(root, "weights/part-1.bin", &opts.Hash); err != nil || maxDone != mfBigLen || lastTotal != mfBigLen {
		t.Errorf("VerifyFile progress: %v, max done %d, total %d", err, maxDone, lastTotal)
	}

	// Cancel: the call fails with StatusCancelled, kind ErrCallback.
	cancelAt := func(limit uint64) ManifestProgress {
		return func(done, total uint64, path string) bool { return done < limit }
	}
	cancel := ManifestHashOptions{Threads: 4, ReadSize: 64 << 10, Progress: cancelAt(1 << 20)}
	_, _, err = SignManifest(f.model, f.p256, &ManifestSignOptions{Hash: cancel})
	wantStatus(t, "cancelled signing", err, StatusCancelled)
	if !errors.Is(err, ErrCallback) {
		t.Errorf("%v is not ErrCallback", err)
	}
	d, err := m.VerifyDir(f.model, &ManifestVerifyOptions{Hash: cancel})
	wantStatus(t, "cancelled VerifyDir", err, StatusCancelled)
	if d != nil {
		t.Error("a cancelled VerifyDir returned a diff")
	}
	wantStatus(t, "cancelled VerifyFile", m.VerifyFile(root, "weights/part-1.bin", &cancel), StatusCancelled)
	// Stopping at the first call, from the last-call-only path too.
	never := func(done, total uint64, path string) bool { return false }
	_, err = HashManifest(f.model, &ManifestSignOptions{Hash: ManifestHashOptions{Threads: 1, Progress: never}})
	wantStatus(t, "cancelled at once", err, StatusCancelled)

	// A panic: raised again, with its value, in this goroutine.
	type boom struct{ n int }
	func() {
		defer func() {
			if r := recover(); r != (boom{7}) {
				t.Errorf("recovered %v, want boom{7}", r)
			}
		}()
		_, _, _ = SignManifest(f.model, f.p256, &ManifestSignOptions{Hash: ManifestHashOptions{
			Threads: 4, ReadSize: 64 << 10,
			Progress: func(done, total uint64, path string) bool { panic(boom{7}) },
		}})
		t.Error("no panic")
	}()
	func() {
		defer func() {
			if r := recover(); r != "range" {
				t.Errorf("recovered %v", r)
			}
		}()
		_ = m.VerifyRange(root, "weights/part-1.bin", 0, 10, &ManifestHashOptions{
			Progress: func(done, total uint64, path string) bool { panic("range") },
		})
		t.Error("no panic")
	}()
	// The manifest and key still work after the panics (no lock was left held).
	if _, err := m.VerifyDir(f.model, nil); err != nil {
		t.Errorf("after the panics: %v", err)
	}
	if _, _, err := SignManifest(f.model, f.p256, nil); err != nil {
		t.Errorf("signing after the panics: %v", err)
	}
}

// One verified manifest used by several goroutines at once, each with
// streams of its own, while others take and drop references.
func TestManifestConcurrentUse(t *testing.T) {
	f := newMfFixture(t)
	m, _ := f.signVerify(t, &ManifestSignOptions{Method: ManifestShards, ShardSize: 1 << 20}, f.p256, f.pub256)
	root := openDir(t, f.model)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				switch g % 3 {
				case 0:
					if err := m.VerifyRange(root, "weights/part-1.bin", uint64(i)<<20, 1, nil); err != nil {
						errs <- err
					}
				case 1:
					s, err := m.OpenStream(root, "weights/part-1.bin")
					if err != nil {
						errs <- err
						continue
					}
					if b, err := io.ReadAll(s); err != nil || !bytes.Equal(b, f.big) {
						errs <- errors.Join(err, errors.New("stream bytes differ"))
					}
					s.Close()
				case 2:
					r, err := m.Ref()
					if err != nil {
						errs <- err
						continue
					}
					if r.RootDigest() != m.RootDigest() || len(r.Resources()) != 6 {
						errs <- errors.New("Ref differs")
					}
					r.Close()
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// A key held by a host KMS (a callback provider) signs manifests; the
// host's error comes back through SignManifest's error.
func TestManifestCallbackProviderKey(t *testing.T) {
	f := newMfFixture(t)
	kms := newFakeKMS()
	p := newCallbackProvider(t, "kms", kms, 0)
	k := getKey(t, p, "sign-key")
	bundle, _, err := SignManifest(f.model, k, &ManifestSignOptions{Hash: ManifestHashOptions{
		Progress: func(done, total uint64, path string) bool { return true },
	}})
	if err != nil {
		t.Fatalf("SignManifest with a host key: %v", err)
	}
	m, err := VerifyManifestKey(bundle, k, nil)
	if err != nil {
		t.Fatalf("VerifyManifestKey with a host key: %v", err)
	}
	m.Close()
	hostErr := &kmsError{code: 9}
	kms.hook = func(ctx context.Context, op, id string, in, ad []byte) error {
		if op == "sign" {
			return hostErr
		}
		return nil
	}
	_, _, err = SignManifest(f.model, k, nil)
	var ke *kmsError
	if !errors.As(err, &ke) || ke != hostErr || !errors.Is(err, ErrCallback) {
		t.Errorf("SignManifest with a failing host: %v, want the host's error", err)
	}
	kms.hook = nil
	assertNothingPending(t, p)
}

// writeByteAt overwrites one byte of path with 'X'.
func writeByteAt(t *testing.T, path string, off int64) {
	t.Helper()
	wf, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	if _, err := wf.WriteAt([]byte("X"), off); err != nil {
		t.Fatal(err)
	}
}

// Streams that hash on threads of their own give the same bytes and the
// same verdicts.
func TestManifestStreamThreads(t *testing.T) {
	f := newMfFixture(t)
	mf, _ := f.signVerify(t, nil, f.p256, f.pub256)
	ms, _ := f.signVerify(t, &ManifestSignOptions{Method: ManifestShards, ShardSize: 1 << 20}, f.p256, f.pub256)
	root := openDir(t, f.model)
	const rel = "weights/part-1.bin"
	buf := make([]byte, 3<<20)

	_, err := mf.OpenStreamWith(root, rel, &ManifestStreamOptions{Threads: 1000})
	wantStatus(t, "threads 1000", err, StatusInvalidArgument)
	for _, opts := range []*ManifestStreamOptions{nil, {Threads: 2}, {Threads: 3}} {
		s, err := mf.OpenStreamWith(root, rel, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, f.big) {
			t.Fatalf("%+v: ReadAll: %d bytes, %v", opts, len(got), err)
		}
		s.Close()
		s, err = ms.OpenStreamWith(root, rel, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.ReadVerified(buf); err != nil || n != 3<<20 || !bytes.Equal(buf, f.big) {
			t.Fatalf("%+v: ReadVerified of three shards: %d, %v", opts, n, err)
		}
		if n, err := s.ReadVerified(buf); n != 0 || err != io.EOF {
			t.Fatalf("%+v: ReadVerified at the end: %d, %v", opts, n, err)
		}
		s.Close()
	}

	writeByteAt(t, filepath.Join(f.model, rel), 2<<20+7)
	for _, opts := range []*ManifestStreamOptions{nil, {Threads: 2}} {
		s, err := mf.OpenStreamWith(root, rel, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(s)
		wantMismatch(t, "ReadAll of a changed file", err)
		wantMismatch(t, "Finish", s.Finish())
		s.Close()
		s, err = ms.OpenStreamWith(root, rel, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 0xAA
		}
		n, err := s.ReadVerified(buf)
		wantMismatch(t, "three shards, the third changed", err)
		if n != 0 || bytes.IndexByte(buf, 0xAA) >= 0 {
			t.Errorf("a failed call left %d bytes / unzeroed data", n)
		}
		s.Close()
	}
}
