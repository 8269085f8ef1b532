package aios

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"
)

// ImportVersion: rotation to material of the caller's own, primary at once
// or pending; the same bytes imported as a key of their own elsewhere are
// the same key; mistakes have their statuses and change nothing; it all
// survives closing and opening the keyring again.
func TestImportVersion(t *testing.T) {
	kr, path := newKeyring(t)
	other, err := CreateKeyring(filepath.Join(t.TempDir(), "other.keyring"), rawOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	m2, m3 := make([]byte, 32), make([]byte, 32)
	for i := range m2 {
		m2[i], m3[i] = byte(0x20+i), byte(0x40+i)
	}
	twin2, err := other.Import("twin2", KeyAES256, m2, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer twin2.Close()
	twin3, err := other.Import("twin3", KeyAES256, m3, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer twin3.Close()
	dk := []byte("0123456789abcdef0123456789abcdef")
	roundtrip := func(what string, w, u *Key) {
		t.Helper()
		wrapped, err := w.Wrap(dk, []byte("ad"))
		if err != nil {
			t.Fatalf("%s: Wrap: %v", what, err)
		}
		b, err := u.Unwrap(wrapped, []byte("ad"))
		if err != nil {
			t.Fatalf("%s: Unwrap: %v", what, err)
		}
		got, _ := b.Bytes()
		if !bytes.Equal(got, dk) {
			t.Errorf("%s: unwrapped %x", what, got)
		}
		b.Close()
	}

	v1 := mustAdd(t, kr, "kek", KeyAES256, KeySpec{MaxUses: 77})
	v2, err := kr.ImportVersion("kek", m2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.ID() != "kek" || v2.Version() != 2 || v2.Type() != KeyAES256 || v2.State() != KeyActive {
		t.Fatalf("ImportVersion = %v", v2)
	}
	if v1.State() != KeyDecryptOnly {
		t.Errorf("v1 after ImportVersion: %v", v1.State())
	}
	if p, err := kr.Get("kek", 0); err != nil || p.Version() != 2 {
		t.Errorf("primary after ImportVersion: %v, %v", p, err)
	} else {
		p.Close()
	}
	roundtrip("v2 -> twin2", v2, twin2)
	roundtrip("twin2 -> v2", twin2, v2)

	v3, err := kr.ImportVersion("kek", m3, true)
	if err != nil {
		t.Fatal(err)
	}
	defer v3.Close()
	if v3.Version() != 3 || v3.State() != KeyPending {
		t.Fatalf("ImportVersion(pending) = v%d %v", v3.Version(), v3.State())
	}
	_, err = v3.Wrap(dk, nil)
	wantStatus(t, "Wrap with a pending version", err, StatusKeyDecryptOnly)
	roundtrip("twin3 -> pending v3", twin3, v3)
	if err := kr.Promote("kek", 3); err != nil {
		t.Fatal(err)
	}
	if v3.State() != KeyActive || v2.State() != KeyDecryptOnly {
		t.Errorf("after Promote: v3 %v, v2 %v", v3.State(), v2.State())
	}
	roundtrip("v3 -> twin3", v3, twin3)

	// Mistakes: their statuses, and nothing changes.
	before, _ := kr.ListJSON()
	_, err = kr.ImportVersion("kek", m2, false)
	wantStatus(t, "ImportVersion(version 2's bytes)", err, StatusKeyExists)
	_, err = kr.ImportVersion("kek", m2[:31], false)
	wantStatus(t, "ImportVersion(31 bytes)", err, StatusFormat)
	if _, err = kr.ImportVersion("kek", nil, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("ImportVersion(nil) = %v", err)
	}
	_, err = kr.ImportVersion("missing", m2, false)
	wantStatus(t, "ImportVersion(unknown key)", err, StatusKeyNotFound)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v is not ErrNotFound", err)
	}
	if _, err = kr.ImportVersion("", m2, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("ImportVersion(\"\") = %v", err)
	}
	if after, _ := kr.ListJSON(); after != before {
		t.Errorf("a refused ImportVersion changed the keyring:\n%s\n%s", before, after)
	}

	// A private key from Go: PKCS#8 PEM of the key's own algorithm.
	signer := mustAdd(t, kr, "signer", KeyEd25519, KeySpec{})
	_, gpriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(gpriv)
	pemIn := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	_, err = kr.ImportVersion("signer", m2, false)
	wantStatus(t, "ImportVersion(raw bytes for Ed25519)", err, StatusFormat)
	_, err = kr.ImportVersion("kek", pemIn, false)
	wantStatus(t, "ImportVersion(PEM for AES)", err, StatusFormat)
	sv, err := kr.ImportVersion("signer", pemIn, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()
	sig, err := sv.Sign([]byte("m"))
	if err != nil || !bytes.Equal(sig, ed25519.Sign(gpriv, []byte("m"))) {
		t.Errorf("imported version signs differently from crypto/ed25519 (%v)", err)
	}
	if signer.State() != KeyDecryptOnly {
		t.Errorf("signer v1 after ImportVersion: %v", signer.State())
	}

	// On disk.
	if err := kr.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenKeyring(path, rawOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	k2, err := again.Get("kek", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if k2.State() != KeyDecryptOnly {
		t.Errorf("v2 after reopening: %v", k2.State())
	}
	roundtrip("twin2 -> reopened v2", twin2, k2)
	if p, err := again.Get("kek", 0); err != nil || p.Version() != 3 {
		t.Errorf("primary after reopening: %v, %v", p, err)
	} else {
		p.Close()
	}
	// Closed keyring: an error, not a crash.
	if _, err := kr.ImportVersion("kek", m3, false); !errors.Is(err, ErrState) {
		t.Errorf("ImportVersion on a closed keyring = %v", err)
	}
}
