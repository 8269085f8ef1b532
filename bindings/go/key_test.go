package aios

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// testMaster is a fixed master key for raw-key keyrings.
var testMaster = []byte("kr-test-master-key-0123456789abc")

func rawOpts() KeyringOptions { return KeyringOptions{MasterKey: testMaster} }

// newKeyring creates a raw-key keyring in a fresh directory.
func newKeyring(t *testing.T) (*Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.keyring")
	kr, err := CreateKeyring(path, rawOpts())
	if err != nil {
		t.Fatalf("CreateKeyring: %v", err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr, path
}

func mustAdd(t *testing.T, kr *Keyring, id string, typ KeyType, spec KeySpec) *Key {
	t.Helper()
	k, err := kr.Add(id, typ, spec)
	if err != nil {
		t.Fatalf("Add(%q, %v): %v", id, typ, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// wantStatus fails unless err is an *Error with status s, of kind.
func wantStatus(t *testing.T, what string, err error, s Status) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: got %v, want an *Error with %v", what, err, s)
	}
	if ae.Status != s || !errors.Is(err, s) || !errors.Is(err, s.Kind().Sentinel()) {
		t.Fatalf("%s: got %v (%v, kind %v), want %v (kind %v)", what, err, ae.Status, ae.Kind, s, s.Kind())
	}
	if ae.Message == "" {
		t.Errorf("%s: %v has no message", what, err)
	}
}

func TestKeyStatuses(t *testing.T) {
	want := []struct {
		s    Status
		name string
		kind error
	}{
		{StatusKeyNotFound, "AIOS_E_KEY_NOT_FOUND", ErrNotFound},
		{StatusKeyVersionNotFound, "AIOS_E_KEY_VERSION_NOT_FOUND", ErrNotFound},
		{StatusKeyExists, "AIOS_E_KEY_EXISTS", ErrState},
		{StatusKeyDestroyed, "AIOS_E_KEY_DESTROYED", ErrState},
		{StatusKeyDisabled, "AIOS_E_KEY_DISABLED", ErrState},
		{StatusKeyDecryptOnly, "AIOS_E_KEY_DECRYPT_ONLY", ErrState},
		{StatusKeyUsage, "AIOS_E_KEY_USAGE", ErrInvalid},
		{StatusKeyUsageLimit, "AIOS_E_KEY_USAGE_LIMIT", ErrLimit},
		{StatusKeyNotExportable, "AIOS_E_KEY_NOT_EXPORTABLE", ErrState},
		{StatusKeyExpired, "AIOS_E_KEY_EXPIRED", ErrState},
		{StatusKeyringPassphrase, "AIOS_E_KEYRING_PASSPHRASE", ErrAuth},
		{StatusKeyringTampered, "AIOS_E_KEYRING_TAMPERED", ErrAuth},
		{StatusKeyringCorrupt, "AIOS_E_KEYRING_CORRUPT", ErrInvalid},
		{StatusKeyringLocked, "AIOS_E_KEYRING_LOCKED", ErrState},
		{StatusPKCS11, "AIOS_E_PKCS11", ErrIO},
		{StatusPKCS11PIN, "AIOS_E_PKCS11_PIN", ErrAuth},
		{StatusProviderTimeout, "AIOS_E_PROVIDER_TIMEOUT", ErrCallback},
	}
	for i, w := range want {
		if int(w.s) != -100-i {
			t.Errorf("%s = %d, want %d", w.name, w.s, -100-i)
		}
		if w.s.Name() != w.name {
			t.Errorf("Status(%d).Name() = %q, want %q", w.s, w.s.Name(), w.name)
		}
		if w.s.Kind().Sentinel() != w.kind {
			t.Errorf("%s: kind %v, want %v", w.name, w.s.Kind(), w.kind)
		}
		if StatusString(w.s) == "unknown status" {
			t.Errorf("%s has no description", w.name)
		}
	}
	if StatusName(-117) != "AIOS_E_UNKNOWN" {
		t.Errorf("status -117 is known (%s): add its Go constant", StatusName(-117))
	}
}

func TestKeyEnumNames(t *testing.T) {
	names := []string{"aes256", "hmac-sha256", "blake2b", "ed25519", "ecdsa-p256", "ecdsa-p384", "x25519", "rsa",
		"ecdsa-p521"}
	if len(KeyTypes) != len(names) {
		t.Fatalf("KeyTypes has %d types, want %d", len(KeyTypes), len(names))
	}
	for i, typ := range KeyTypes {
		if typ.Name() != names[i] || typ.String() != names[i] {
			t.Errorf("KeyType(%d) = %q, want %q", typ, typ.Name(), names[i])
		}
		if got, err := ParseKeyType(names[i]); err != nil || got != typ {
			t.Errorf("ParseKeyType(%q) = %v, %v", names[i], got, err)
		}
	}
	if KeyType(99).Name() != "" || KeyType(99).String() != "KeyType(99)" {
		t.Errorf("KeyType(99) = %q / %q", KeyType(99).Name(), KeyType(99).String())
	}
	if _, err := ParseKeyType("rsa-pss"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseKeyType(rsa-pss) = %v", err)
	}
	states := []string{"active", "decrypt-only", "disabled", "destroyed", "pending"}
	for i, s := range KeyStates {
		if s.String() != states[i] {
			t.Errorf("KeyState(%d) = %q, want %q", s, s, states[i])
		}
		if got, err := ParseKeyState(states[i]); err != nil || got != s {
			t.Errorf("ParseKeyState(%q) = %v, %v", states[i], got, err)
		}
	}
	if KeyState(0).String() != "KeyState(0)" {
		t.Errorf("KeyState(0) = %q", KeyState(0))
	}
	u := KeyUseSign | KeyUseVerify
	if u.String() != "sign|verify" || !u.Has(KeyUseSign) || u.Has(KeyUseWrap) || KeyUse(0).String() != "none" {
		t.Errorf("KeyUse: %q", u)
	}
	if (KeyUse(0x80) | KeyUseMAC).String() != "mac|0x80" {
		t.Errorf("unknown bits: %q", KeyUse(0x80)|KeyUseMAC)
	}
	b, _ := json.Marshal(struct {
		T KeyType
		S KeyState
		U KeyUse
	}{KeyEd25519, KeyPending, u})
	if string(b) != `{"T":"ed25519","S":"pending","U":["sign","verify"]}` {
		t.Errorf("JSON: %s", b)
	}
	var back struct {
		T KeyType
		S KeyState
		U KeyUse
	}
	if err := json.Unmarshal(b, &back); err != nil || back.T != KeyEd25519 || back.S != KeyPending || back.U != u {
		t.Errorf("JSON round trip: %+v, %v", back, err)
	}
	if KeyDataKeyMax != 64 || KeyWrappedMax != 1024 || KeyMACLen != 32 {
		t.Errorf("sizes: %d %d %d", KeyDataKeyMax, KeyWrappedMax, KeyMACLen)
	}
}

func TestKeyringPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pass.keyring")
	pass := []byte("correct horse battery staple")
	opts := KeyringOptions{Passphrase: pass, Argon2Ops: 1, Argon2Mem: 8 << 20}
	kr, err := CreateKeyring(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kr.Add("kek", KeyAES256, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := k.Wrap([]byte("0123456789abcdef0123456789abcdef"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	kr.Close()
	if !bytes.Equal(pass, []byte("correct horse battery staple")) {
		t.Error("CreateKeyring changed the caller's passphrase")
	}

	// A second create at the same path.
	if _, err := CreateKeyring(path, opts); err == nil {
		t.Fatal("CreateKeyring over an existing file succeeded")
	} else {
		wantStatus(t, "CreateKeyring(existing)", err, StatusKeyExists)
	}

	// The parameters are stored: opening needs only the passphrase.
	kr, err = OpenKeyring(path, KeyringOptions{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	k, err = kr.Get("kek", 0)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := k.Unwrap(wrapped, []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := dk.Bytes(); string(b) != "0123456789abcdef0123456789abcdef" || !dk.Secure() {
		t.Errorf("Unwrap after reopen = %q (secure %v)", b, dk.Secure())
	}
	dk.Close()
	k.Close()
	kr.Close()

	_, err = OpenKeyring(path, KeyringOptions{Passphrase: []byte("wrong")})
	wantStatus(t, "OpenKeyring(wrong passphrase)", err, StatusKeyringPassphrase)
	if !errors.Is(err, ErrAuth) {
		t.Errorf("a wrong passphrase is not ErrAuth: %v", err)
	}
	if strings.Contains(err.Error(), "wrong\x00") || strings.Contains(err.Error(), "correct horse") {
		t.Errorf("the error shows a passphrase: %v", err)
	}
	// The unlock method is stored too.
	if _, err := OpenKeyring(path, rawOpts()); err == nil {
		t.Error("a passphrase keyring opened with a raw master key")
	}
}

func TestKeyringMasterKey(t *testing.T) {
	kr, path := newKeyring(t)
	mustAdd(t, kr, "mac", KeyHMACSHA256, KeySpec{})
	kr.Close()
	kr2, err := OpenKeyring(path, rawOpts())
	if err != nil {
		t.Fatal(err)
	}
	if k, err := kr2.Get("mac", 1); err != nil || k.Type() != KeyHMACSHA256 {
		t.Fatalf("Get after reopen: %v, %v", k, err)
	} else {
		k.Close()
	}
	kr2.Close()
	other := bytes.Repeat([]byte{7}, 32)
	_, err = OpenKeyring(path, KeyringOptions{MasterKey: other, LockTimeout: time.Second})
	wantStatus(t, "OpenKeyring(wrong master key)", err, StatusKeyringPassphrase)
}

func TestKeyringOptionsChecked(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.keyring")
	for name, o := range map[string]KeyringOptions{
		"none":     {},
		"two":      {Passphrase: []byte("a"), MasterKey: testMaster},
		"pkcs11+":  {MasterKey: testMaster, PKCS11: &PKCS11Unlock{URI: "pkcs11:token=x"}},
		"negative": {MasterKey: testMaster, LockTimeout: -time.Second},
	} {
		if _, err := CreateKeyring(p, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: CreateKeyring = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := CreateKeyring(p+"\x00x", rawOpts()); !errors.Is(err, StatusInvalidArgument) {
		t.Errorf("NUL in path: %v", err)
	}
	if _, err := CreateKeyring(p, KeyringOptions{MasterKey: []byte("short")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a 5-byte master key: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a failed create left %s: %v", p, err)
	}
	_, err := OpenKeyring(filepath.Join(dir, "missing.keyring"), rawOpts())
	if err == nil || !(errors.Is(err, ErrNotFound) || errors.Is(err, ErrIO)) {
		t.Errorf("OpenKeyring(missing) = %v", err)
	}
}

func TestEveryKeyType(t *testing.T) {
	kr, _ := newKeyring(t)
	natural := map[KeyType]KeyUse{
		KeyAES256: KeyUseWrap, KeyHMACSHA256: KeyUseMAC, KeyBLAKE2b: KeyUseMAC,
		KeyEd25519: KeyUseSign | KeyUseVerify, KeyECDSAP256: KeyUseSign | KeyUseVerify,
		KeyECDSAP384: KeyUseSign | KeyUseVerify, KeyX25519: KeyUseDerive,
		KeyECDSAP521: KeyUseSign | KeyUseVerify,
	}
	before := time.Now().Add(-2 * time.Second)
	for _, typ := range LocalKeyTypes {
		id := "k-" + typ.Name()
		k := mustAdd(t, kr, id, typ, KeySpec{Attributes: map[string]string{"type": typ.Name(), "tenant": "acme"}})
		if k.ID() != id || k.Version() != 1 || k.Type() != typ || k.State() != KeyActive ||
			k.ProviderName() != "local" || k.Exportable() {
			t.Errorf("%s: %s v%d %v %v %q exportable=%v", typ, k.ID(), k.Version(), k.Type(), k.State(),
				k.ProviderName(), k.Exportable())
		}
		if k.Purposes() != natural[typ] {
			t.Errorf("%s: purposes %v, want %v", typ, k.Purposes(), natural[typ])
		}
		if c := k.CreatedAt(); c.Before(before) || c.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s: CreatedAt %v", typ, c)
		}
		if a := k.Attributes(); len(a) != 2 || a["type"] != typ.Name() || a["tenant"] != "acme" {
			t.Errorf("%s: Attributes %v", typ, a)
		}
		if v, ok := k.Attribute("tenant"); !ok || v != "acme" {
			t.Errorf("%s: Attribute(tenant) = %q, %v", typ, v, ok)
		}
		if _, ok := k.Attribute("missing"); ok {
			t.Errorf("%s: Attribute(missing) found", typ)
		}
		if !strings.Contains(k.String(), id) || !strings.Contains(k.String(), typ.Name()) {
			t.Errorf("String() = %q", k.String())
		}
		pub, err := k.PublicRaw()
		switch typ {
		case KeyAES256, KeyHMACSHA256, KeyBLAKE2b:
			wantStatus(t, typ.Name()+" PublicRaw", err, StatusKeyUsage)
		case KeyEd25519, KeyX25519:
			if err != nil || len(pub) != 32 {
				t.Errorf("%s: PublicRaw = %d bytes, %v", typ, len(pub), err)
			}
		case KeyECDSAP256:
			if err != nil || len(pub) != 65 || pub[0] != 4 {
				t.Errorf("%s: PublicRaw = %x, %v", typ, pub, err)
			}
		case KeyECDSAP384:
			if err != nil || len(pub) != 97 || pub[0] != 4 {
				t.Errorf("%s: PublicRaw = %x, %v", typ, pub, err)
			}
		case KeyECDSAP521:
			if err != nil || len(pub) != 133 || pub[0] != 4 {
				t.Errorf("%s: PublicRaw = %x, %v", typ, pub, err)
			}
		}
	}
	// Purposes the type does not allow.
	_, err := kr.Add("bad", KeyAES256, KeySpec{Purposes: KeyUseSign})
	wantStatus(t, "Add(AES256, sign)", err, StatusKeyUsage)
	_, err = kr.Add("bad", KeyType(99), KeySpec{})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Add(type 99) = %v", err)
	}
	_, err = kr.Add("k-aes256", KeyAES256, KeySpec{})
	wantStatus(t, "Add(duplicate)", err, StatusKeyExists)
	_, err = kr.Add("", KeyAES256, KeySpec{})
	wantStatus(t, "Add(empty id)", err, StatusInvalidArgument)
	_, err = kr.Add("nul\x00id", KeyAES256, KeySpec{})
	wantStatus(t, "Add(NUL in id)", err, StatusInvalidArgument)
}

func TestKeySpecAttributes(t *testing.T) {
	kr, _ := newKeyring(t)
	attrs := map[string]string{"z": "last", "a": "first", "m": "", "région": "eu-ouest"}
	k := mustAdd(t, kr, "attrs", KeyAES256, KeySpec{Attributes: attrs})
	got := k.Attributes()
	if len(got) != len(attrs) {
		t.Fatalf("Attributes = %v", got)
	}
	for n, v := range attrs {
		if got[n] != v {
			t.Errorf("attribute %q = %q, want %q", n, got[n], v)
		}
	}
	_, err := kr.Add("nul", KeyAES256, KeySpec{Attributes: map[string]string{"a": "b\x00c"}})
	wantStatus(t, "NUL in a value", err, StatusInvalidArgument)
	many := map[string]string{}
	for i := 0; i < 65; i++ {
		many["a"+strings.Repeat("x", i)] = "v"
	}
	_, err = kr.Add("many", KeyAES256, KeySpec{Attributes: many})
	wantStatus(t, "65 attributes", err, StatusLimit)
	_, err = kr.Add("long", KeyAES256, KeySpec{Attributes: map[string]string{"a": strings.Repeat("v", 1025)}})
	wantStatus(t, "a 1025-byte value", err, StatusLimit)
}

func TestWrapUnwrap(t *testing.T) {
	kr, _ := newKeyring(t)
	k := mustAdd(t, kr, "kek", KeyAES256, KeySpec{})
	other := mustAdd(t, kr, "other", KeyAES256, KeySpec{})
	for _, n := range []int{1, 16, 32, KeyDataKeyMax} {
		dk := make([]byte, n)
		rand.Read(dk)
		for _, ad := range [][]byte{nil, {}, []byte("tenant=acme")} {
			w, err := k.Wrap(dk, ad)
			if err != nil {
				t.Fatalf("Wrap(%d bytes): %v", n, err)
			}
			if len(w) > KeyWrappedMax || bytes.Contains(w, dk) && n >= 8 {
				t.Errorf("Wrap(%d) = %d bytes, containing the data key?", n, len(w))
			}
			b, err := k.Unwrap(w, ad)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if got, _ := b.Bytes(); !bytes.Equal(got, dk) || !b.Secure() {
				t.Errorf("Unwrap = %x, want %x (secure %v)", got, dk, b.Secure())
			}
			b.Close()
		}
	}
	dk := []byte("0123456789abcdef0123456789abcdef")
	w, err := k.Wrap(dk, []byte("ad-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Unwrap(w, []byte("ad-2"))
	wantStatus(t, "Unwrap(other ad)", err, StatusAuth)
	_, err = other.Unwrap(w, []byte("ad-1"))
	wantStatus(t, "Unwrap(other key)", err, StatusAuth)
	for i := range w {
		bad := append([]byte(nil), w...)
		bad[i] ^= 0x01
		if _, err := k.Unwrap(bad, []byte("ad-1")); err == nil {
			t.Fatalf("Unwrap accepted a wrapped key changed at byte %d", i)
		} else if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("changed byte %d: %v", i, err)
		}
	}
	_, err = k.Unwrap(w[:10], []byte("ad-1"))
	if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrInvalid) {
		t.Errorf("Unwrap(truncated) = %v", err)
	}
	_, err = k.Wrap(make([]byte, KeyDataKeyMax+1), nil)
	wantStatus(t, "Wrap(65 bytes)", err, StatusInvalidArgument)
	_, err = k.Wrap(nil, nil)
	wantStatus(t, "Wrap(empty)", err, StatusInvalidArgument)

	mac := mustAdd(t, kr, "mac", KeyHMACSHA256, KeySpec{})
	_, err = mac.Wrap(dk, nil)
	wantStatus(t, "Wrap with an HMAC key", err, StatusKeyUsage)
	_, err = k.Sign([]byte("x"))
	wantStatus(t, "Sign with an AES key", err, StatusKeyUsage)
	_, err = k.MAC([]byte("x"))
	wantStatus(t, "MAC with an AES key", err, StatusKeyUsage)
	_, err = k.Agree(make([]byte, 32))
	wantStatus(t, "Agree with an AES key", err, StatusKeyUsage)
	_, err = k.PublicPEM()
	wantStatus(t, "PublicPEM of an AES key", err, StatusKeyUsage)
	_, err = k.Verify([]byte("sig"), []byte("x"))
	wantStatus(t, "Verify with an AES key", err, StatusKeyUsage)
}

func TestSignVerify(t *testing.T) {
	kr, _ := newKeyring(t)
	msg := []byte("model.safetensors sha256=...")
	for _, typ := range []KeyType{KeyEd25519, KeyECDSAP256, KeyECDSAP384} {
		t.Run(typ.Name(), func(t *testing.T) {
			k := mustAdd(t, kr, "sig-"+typ.Name(), typ, KeySpec{})
			sig, err := k.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := k.Verify(sig, msg); !ok || err != nil {
				t.Fatalf("Verify(own signature) = %v, %v", ok, err)
			}
			if ok, err := k.Verify(sig, append(msg, '!')); ok || err != nil {
				t.Errorf("Verify(other message) = %v, %v; want false, nil", ok, err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)-1] ^= 1
			if ok, err := k.Verify(bad, msg); ok || err != nil {
				t.Errorf("Verify(changed signature) = %v, %v; want false, nil", ok, err)
			}
			if ok, err := k.Verify(nil, msg); ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Verify(empty signature) = %v, %v", ok, err)
			}
			if typ != KeyEd25519 {
				// Deterministic ECDSA (RFC 6979) for local keys.
				again, _ := k.Sign(msg)
				if !bytes.Equal(again, sig) {
					t.Errorf("ECDSA signatures differ: %x %x", sig, again)
				}
			}

			// The Go standard library agrees.
			pemText, err := k.PublicPEM()
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode([]byte(pemText))
			if blk == nil || blk.Type != "PUBLIC KEY" {
				t.Fatalf("PublicPEM = %q", pemText)
			}
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := k.PublicRaw()
			switch p := pub.(type) {
			case ed25519.PublicKey:
				if !ed25519.Verify(p, msg, sig) || !bytes.Equal(p, raw) {
					t.Error("crypto/ed25519 does not verify the signature")
				}
			case *ecdsa.PublicKey:
				var digest []byte
				if typ == KeyECDSAP256 {
					h := sha256.Sum256(msg)
					digest = h[:]
				} else {
					h := sha512.Sum384(msg)
					digest = h[:]
				}
				if !ecdsa.VerifyASN1(p, digest, sig) {
					t.Error("crypto/ecdsa does not verify the signature")
				}
				if ep, _ := p.ECDH(); ep == nil || !bytes.Equal(ep.Bytes(), raw) {
					t.Error("PublicRaw is not the PEM's point")
				}
			default:
				t.Fatalf("PublicPEM holds a %T", pub)
			}

			// Public PEM round trip: a public-only key verifies.
			pk, err := KeyFromPublicPEM(pemText, "peer-"+typ.Name())
			if err != nil {
				t.Fatal(err)
			}
			defer pk.Close()
			if pk.ID() != "peer-"+typ.Name() || pk.ProviderName() != "public" || pk.Version() != 1 ||
				pk.Type() != typ || !pk.Purposes().Has(KeyUseVerify) || pk.Purposes().Has(KeyUseSign) {
				t.Errorf("public key: %s %q %v %v", pk, pk.ProviderName(), pk.Type(), pk.Purposes())
			}
			if ok, err := pk.Verify(sig, msg); !ok || err != nil {
				t.Errorf("public key Verify = %v, %v", ok, err)
			}
			if again, _ := pk.PublicPEM(); again != pemText {
				t.Errorf("PEM round trip:\n%s\n%s", pemText, again)
			}
			_, err = pk.Sign(msg)
			wantStatus(t, "Sign with a public key", err, StatusKeyUsage)
			_, err = pk.Export()
			if err == nil {
				t.Error("a public key exported a secret")
			}

			// No id: the SHA-256 fingerprint in hex.
			fk, err := KeyFromPublicPEM(pemText, "")
			if err != nil {
				t.Fatal(err)
			}
			defer fk.Close()
			if id := fk.ID(); len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Errorf("fingerprint id = %q", id)
			}
		})
	}
	_, err := KeyFromPublicPEM("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("KeyFromPublicPEM(garbage) = %v", err)
	}
	_, err = KeyFromPublicPEM("", "")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("KeyFromPublicPEM(empty) = %v", err)
	}
}

func TestMAC(t *testing.T) {
	kr, _ := newKeyring(t)
	h := mustAdd(t, kr, "hmac", KeyHMACSHA256, KeySpec{Exportable: true})
	b := mustAdd(t, kr, "blake", KeyBLAKE2b, KeySpec{})
	msg := []byte("user@example.com")
	m1, err := h.MAC(msg)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := h.MAC(msg)
	m3, _ := h.MAC([]byte("other@example.com"))
	if m1 != m2 || m1 == m3 {
		t.Errorf("HMAC not a stable pseudonym: %x %x %x", m1, m2, m3)
	}
	secret, err := h.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	raw, _ := secret.Bytes()
	mac := hmac.New(sha256.New, raw)
	mac.Write(msg)
	if !bytes.Equal(mac.Sum(nil), m1[:]) {
		t.Error("MAC is not HMAC-SHA-256 of the exported key")
	}
	Wipe(raw)
	b1, err := b.MAC(msg)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := b.MAC(msg); b1 != b2 || b1 == m1 {
		t.Errorf("BLAKE2b MAC: %x", b1)
	}
	if empty, err := b.MAC(nil); err != nil || empty == b1 {
		t.Errorf("MAC(empty) = %x, %v", empty, err)
	}
}

func TestAgree(t *testing.T) {
	kr, _ := newKeyring(t)
	a := mustAdd(t, kr, "a", KeyX25519, KeySpec{})
	b := mustAdd(t, kr, "b", KeyX25519, KeySpec{})
	pa, _ := a.PublicRaw()
	pb, _ := b.PublicRaw()
	s1, err := a.Agree(pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := b.Agree(pa)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	x, _ := s1.Bytes()
	y, _ := s2.Bytes()
	if len(x) != 32 || !bytes.Equal(x, y) || !s1.Secure() {
		t.Errorf("shared secrets differ: %x %x", x, y)
	}
	// crypto/ecdh agrees.
	peer, _ := ecdh.X25519().GenerateKey(rand.Reader)
	s3, err := a.Agree(peer.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	apub, _ := ecdh.X25519().NewPublicKey(pa)
	want, _ := peer.ECDH(apub)
	if got, _ := s3.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("Agree = %x, crypto/ecdh = %x", got, want)
	}
	_, err = a.Agree(make([]byte, 32)) // a low-order point
	wantStatus(t, "Agree(zero point)", err, StatusAuth)
	_, err = a.Agree(make([]byte, 31))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Agree(31 bytes) = %v", err)
	}
	// The X25519 public PEM imports as a recipient.
	p, err := a.PublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	r, err := KeyFromPublicPEM(p, "recipient")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Type() != KeyX25519 {
		t.Errorf("recipient type %v", r.Type())
	}
	if raw, _ := r.PublicRaw(); !bytes.Equal(raw, pa) {
		t.Errorf("recipient public key differs")
	}
}

func TestExportAndImport(t *testing.T) {
	kr, _ := newKeyring(t)
	sealed := mustAdd(t, kr, "sealed", KeyAES256, KeySpec{})
	_, err := sealed.Export()
	wantStatus(t, "Export(not exportable)", err, StatusKeyNotExportable)

	// A symmetric key: the raw 32 bytes, importable elsewhere.
	k := mustAdd(t, kr, "portable", KeyAES256, KeySpec{Exportable: true})
	if !k.Exportable() {
		t.Error("Exportable() = false")
	}
	secret, err := k.Export()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := secret.Bytes()
	secret.Close()
	if len(raw) != 32 || !secret.Secure() && secret.Len() != 0 {
		t.Fatalf("Export = %d bytes", len(raw))
	}
	kr2, _ := newKeyring(t)
	k2, err := kr2.Import("portable", KeyAES256, raw, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	Wipe(raw)
	w, _ := k.Wrap([]byte("data key 16 byte"), nil)
	dk, err := k2.Unwrap(w, nil)
	if err != nil {
		t.Fatalf("the imported key does not unwrap: %v", err)
	}
	dk.Close()
	_, err = k2.Export()
	wantStatus(t, "Export(imported, not exportable)", err, StatusKeyNotExportable)

	// A private key: PKCS#8 PEM that crypto/x509 reads.
	ek := mustAdd(t, kr, "signer", KeyEd25519, KeySpec{Exportable: true})
	secret, err = ek.Export()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := secret.Bytes()
	secret.Close()
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatalf("Export of Ed25519 is not PEM: %q", pemBytes)
	}
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ek.PublicRaw()
	if !bytes.Equal(priv.(ed25519.PrivateKey).Public().(ed25519.PublicKey), pub) {
		t.Error("exported private key does not match the public key")
	}
	// A key generated by Go imports, and signs as Go would.
	_, gpriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(gpriv)
	pemIn := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	ik, err := kr.Import("from-go", KeyEd25519, pemIn, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer ik.Close()
	sig, _ := ik.Sign([]byte("m"))
	if !bytes.Equal(sig, ed25519.Sign(gpriv, []byte("m"))) {
		t.Error("imported Ed25519 key signs differently from crypto/ed25519")
	}
	ep, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ = x509.MarshalPKCS8PrivateKey(ep)
	pemIn = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	_, err = kr.Import("wrong-type", KeyEd25519, pemIn, KeySpec{})
	if err == nil {
		t.Error("a P-256 key imported as Ed25519")
	}
	pk, err := kr.Import("p256", KeyECDSAP256, pemIn, KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer pk.Close()
	sig, _ = pk.Sign([]byte("m"))
	h := sha256.Sum256([]byte("m"))
	if !ecdsa.VerifyASN1(&ep.PublicKey, h[:], sig) {
		t.Error("imported P-256 key's signature does not verify with crypto/ecdsa")
	}
	_, err = kr.Import("short", KeyAES256, []byte("too short"), KeySpec{})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Import(9 bytes AES) = %v", err)
	}
	_, err = kr.Import("empty", KeyAES256, nil, KeySpec{})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Import(empty) = %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	kr, _ := newKeyring(t)
	v1 := mustAdd(t, kr, "k", KeyAES256, KeySpec{})
	dk := []byte("0123456789abcdef")
	w1, err := v1.Wrap(dk, nil)
	if err != nil {
		t.Fatal(err)
	}

	v2, err := kr.Rotate("k")
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.Version() != 2 || v2.State() != KeyActive {
		t.Fatalf("Rotate = v%d %v", v2.Version(), v2.State())
	}
	// The old handle sees the new state at once.
	if v1.State() != KeyDecryptOnly {
		t.Errorf("v1 after Rotate: %v", v1.State())
	}
	_, err = v1.Wrap(dk, nil)
	wantStatus(t, "Wrap with v1 after Rotate", err, StatusKeyDecryptOnly)
	if b, err := v1.Unwrap(w1, nil); err != nil {
		t.Errorf("Unwrap with decrypt-only v1: %v", err)
	} else {
		b.Close()
	}
	if p, _ := kr.Get("k", 0); p.Version() != 2 {
		t.Errorf("primary after Rotate: v%d", p.Version())
	} else {
		p.Close()
	}
	w2, _ := v2.Wrap(dk, nil)

	// Disable, and enable again.
	if err := kr.SetState("k", 1, KeyDisabled); err != nil {
		t.Fatal(err)
	}
	_, err = v1.Unwrap(w1, nil)
	wantStatus(t, "Unwrap with disabled v1", err, StatusKeyDisabled)
	if err := kr.SetState("k", 1, KeyDecryptOnly); err != nil {
		t.Fatal(err)
	}
	if b, err := v1.Unwrap(w1, nil); err != nil {
		t.Errorf("Unwrap after re-enabling: %v", err)
	} else {
		b.Close()
	}
	err = kr.SetState("k", 2, KeyDisabled)
	wantStatus(t, "disabling the primary version", err, StatusState)
	if err := kr.SetState("k", 1, KeyState(42)); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetState(42) = %v", err)
	}

	// A minimum decrypt version.
	if err := kr.SetMinDecryptVersion("k", 2); err != nil {
		t.Fatal(err)
	}
	_, err = v1.Unwrap(w1, nil)
	wantStatus(t, "Unwrap below the minimum", err, StatusKeyDisabled)
	if b, err := v2.Unwrap(w2, nil); err != nil {
		t.Errorf("v2 Unwrap: %v", err)
	} else {
		b.Close()
	}

	// Destroy: metadata stays, material goes.
	if err := kr.Destroy("k", 1); err != nil {
		t.Fatal(err)
	}
	if v1.State() != KeyDestroyed {
		t.Errorf("v1 after Destroy: %v", v1.State())
	}
	_, err = v1.Unwrap(w1, nil)
	wantStatus(t, "Unwrap with destroyed v1", err, StatusKeyDestroyed)
	if g, err := kr.Get("k", 1); err != nil || g.State() != KeyDestroyed {
		t.Errorf("Get(destroyed) = %v, %v", g, err)
	} else {
		_, err = g.Unwrap(w1, nil)
		wantStatus(t, "Unwrap with a new handle of destroyed v1", err, StatusKeyDestroyed)
		g.Close()
	}
	err = kr.Destroy("k", 2)
	wantStatus(t, "destroying the primary version", err, StatusState)

	// Two-phase rotation.
	v3, err := kr.AddVersion("k")
	if err != nil {
		t.Fatal(err)
	}
	defer v3.Close()
	if v3.Version() != 3 || v3.State() != KeyPending {
		t.Errorf("AddVersion = v%d %v", v3.Version(), v3.State())
	}
	_, err = v3.Wrap(dk, nil)
	wantStatus(t, "Wrap with a pending version", err, StatusKeyDecryptOnly)
	if b, err := v3.Unwrap(w2, nil); err == nil {
		b.Close()
		t.Error("v3 unwrapped what v2 wrapped")
	}
	if err := kr.Promote("k", 3); err != nil {
		t.Fatal(err)
	}
	if v3.State() != KeyActive || v2.State() != KeyDecryptOnly {
		t.Errorf("after Promote: v3 %v, v2 %v", v3.State(), v2.State())
	}
	if _, err := v3.Wrap(dk, nil); err != nil {
		t.Errorf("Wrap with promoted v3: %v", err)
	}

	// Not found.
	_, err = kr.Get("nope", 0)
	wantStatus(t, "Get(unknown id)", err, StatusKeyNotFound)
	_, err = kr.Get("k", 99)
	wantStatus(t, "Get(unknown version)", err, StatusKeyVersionNotFound)
	for name, err := range map[string]error{
		"Rotate":               func() error { _, err := kr.Rotate("nope"); return err }(),
		"AddVersion":           func() error { _, err := kr.AddVersion("nope"); return err }(),
		"Promote":              kr.Promote("nope", 1),
		"SetState":             kr.SetState("nope", 1, KeyDisabled),
		"Destroy":              kr.Destroy("nope", 1),
		"SetMinDecryptVersion": kr.SetMinDecryptVersion("nope", 1),
	} {
		if !errors.Is(err, StatusKeyNotFound) || !errors.Is(err, ErrNotFound) {
			t.Errorf("%s(unknown id) = %v", name, err)
		}
	}
	if err := kr.Promote("k", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Promote(unknown version) = %v", err)
	}
}

func TestUsageLimits(t *testing.T) {
	kr, _ := newKeyring(t)
	k := mustAdd(t, kr, "limited", KeyAES256, KeySpec{MaxUses: 2})
	for i := 0; i < 2; i++ {
		if _, err := k.Wrap([]byte("data key"), nil); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	_, err := k.Wrap([]byte("data key"), nil)
	wantStatus(t, "third use", err, StatusKeyUsageLimit)
	if !errors.Is(err, ErrLimit) {
		t.Errorf("usage limit is not ErrLimit: %v", err)
	}
	s := mustAdd(t, kr, "signer", KeyEd25519, KeySpec{MaxUses: 1})
	sig, err := s.Sign([]byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Sign([]byte("m"))
	wantStatus(t, "second signature", err, StatusKeyUsageLimit)
	if ok, err := s.Verify(sig, []byte("m")); !ok || err != nil {
		t.Errorf("Verify after the limit: %v, %v", ok, err)
	}

	past := mustAdd(t, kr, "expired", KeyAES256, KeySpec{NotAfter: time.Now().Add(-time.Hour)})
	_, err = past.Wrap([]byte("data key"), nil)
	wantStatus(t, "Wrap after NotAfter", err, StatusKeyExpired)
	future := mustAdd(t, kr, "later", KeyAES256, KeySpec{NotAfter: time.Now().Add(time.Hour)})
	if _, err := future.Wrap([]byte("data key"), nil); err != nil {
		t.Errorf("Wrap before NotAfter: %v", err)
	}
}

func TestKeyringList(t *testing.T) {
	kr, _ := newKeyring(t)
	notAfter := time.Unix(time.Now().Add(24*time.Hour).Unix(), 0)
	mustAdd(t, kr, "wrap", KeyAES256, KeySpec{Attributes: map[string]string{"tenant": "acme"}, MaxUses: 10, NotAfter: notAfter})
	mustAdd(t, kr, "sign", KeyEd25519, KeySpec{Exportable: true})
	k, _ := kr.Get("wrap", 0)
	k.Wrap([]byte("data key"), nil)
	k.Close()
	r, err := kr.Rotate("wrap")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()

	raw, err := kr.ListJSON()
	if err != nil || !json.Valid([]byte(raw)) {
		t.Fatalf("ListJSON = %q, %v", raw, err)
	}
	keys, err := kr.List()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	if len(keys) != 2 || keys[0].ID != "sign" || keys[1].ID != "wrap" {
		t.Fatalf("List = %+v", keys)
	}
	s, w := keys[0], keys[1]
	if s.Type != KeyEd25519 || s.Purposes != KeyUseSign|KeyUseVerify || !s.Exportable || s.Primary != 1 || len(s.Versions) != 1 {
		t.Errorf("sign: %+v", s)
	}
	if w.Type != KeyAES256 || w.Purposes != KeyUseWrap || w.Exportable || w.Primary != 2 ||
		w.Attributes["tenant"] != "acme" || len(w.Versions) != 2 {
		t.Errorf("wrap: %+v", w)
	}
	v1, ok1 := w.Version(1)
	v2, ok2 := w.Version(2)
	if !ok1 || !ok2 || v1.State != KeyDecryptOnly || v2.State != KeyActive || v1.Uses != 1 || v2.Uses != 0 {
		t.Errorf("wrap versions: %+v", w.Versions)
	}
	if v1.MaxUses != 10 || !v1.NotAfter.Equal(notAfter) || v1.CreatedAt.IsZero() ||
		time.Since(v1.CreatedAt) > time.Minute {
		t.Errorf("wrap v1: %+v (want max 10, not after %v)", v1, notAfter)
	}
	if _, ok := w.Version(3); ok {
		t.Error("Version(3) found")
	}
	if strings.Contains(raw, "material") || strings.Contains(raw, "secret") {
		t.Errorf("ListJSON mentions secrets: %s", raw)
	}
}

func TestKeyringTampered(t *testing.T) {
	kr, path := newKeyring(t)
	mustAdd(t, kr, "k", KeyAES256, KeySpec{})
	kr.Close()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 8, 20, len(orig) / 2, len(orig) - 1, len(orig) - 20} {
		bad := append([]byte(nil), orig...)
		bad[at] ^= 0x40
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenKeyring(path, rawOpts())
		t.Logf("byte %d of %d changed: %v", at, len(orig), err)
		if !errors.Is(err, StatusKeyringTampered) && !errors.Is(err, StatusKeyringCorrupt) {
			t.Errorf("byte %d of %d changed: OpenKeyring = %v, want tampered or corrupt", at, len(orig), err)
		}
		if at >= 20 { // past the magic, version and header length: authenticated
			wantStatus(t, "a changed byte", err, StatusKeyringTampered)
		}
	}
	// A change in the body is tampering.
	bad := append([]byte(nil), orig...)
	bad[len(bad)-5] ^= 1
	os.WriteFile(path, bad, 0o600)
	_, err = OpenKeyring(path, rawOpts())
	wantStatus(t, "changed tag", err, StatusKeyringTampered)
	// Truncated: corrupt.
	os.WriteFile(path, orig[:len(orig)/3], 0o600)
	_, err = OpenKeyring(path, rawOpts())
	wantStatus(t, "truncated", err, StatusKeyringCorrupt)
	os.WriteFile(path, []byte("not a keyring"), 0o600)
	_, err = OpenKeyring(path, rawOpts())
	t.Logf("garbage: %v", err)
	if !errors.Is(err, StatusKeyringCorrupt) {
		t.Errorf("garbage: %v", err)
	}
	// The original still opens.
	os.WriteFile(path, orig, 0o600)
	kr2, err := OpenKeyring(path, rawOpts())
	if err != nil {
		t.Fatalf("the restored file: %v", err)
	}
	kr2.Close()
}

func TestKeyringLocking(t *testing.T) {
	kr, path := newKeyring(t)
	mustAdd(t, kr, "k", KeyAES256, KeySpec{})

	_, err := OpenKeyring(path, rawOpts())
	wantStatus(t, "second writer", err, StatusKeyringLocked)
	start := time.Now()
	o := rawOpts()
	o.LockTimeout = 150 * time.Millisecond
	_, err = OpenKeyring(path, o)
	wantStatus(t, "second writer with a timeout", err, StatusKeyringLocked)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("LockTimeout 150ms gave up after %v", d)
	}

	// Read-only needs no lock and cannot change anything.
	ro := rawOpts()
	ro.ReadOnly = true
	rk, err := OpenKeyring(path, ro)
	if err != nil {
		t.Fatalf("read-only open while locked: %v", err)
	}
	defer rk.Close()
	if k, err := rk.Get("k", 0); err != nil {
		t.Errorf("read-only Get: %v", err)
	} else {
		k.Close()
	}
	_, err = rk.Add("new", KeyAES256, KeySpec{})
	wantStatus(t, "read-only Add", err, StatusState)
	_, err = rk.Rotate("k")
	wantStatus(t, "read-only Rotate", err, StatusState)

	// Reload shows what the writer did.
	mustAdd(t, kr, "added-later", KeyAES256, KeySpec{})
	if _, err := rk.Get("added-later", 0); !errors.Is(err, StatusKeyNotFound) {
		t.Errorf("before Reload: %v", err)
	}
	if err := rk.Reload(); err != nil {
		t.Fatal(err)
	}
	if k, err := rk.Get("added-later", 0); err != nil {
		t.Errorf("after Reload: %v", err)
	} else {
		k.Close()
	}

	// A waiting writer gets the lock when the first lets go.
	go func() {
		time.Sleep(100 * time.Millisecond)
		kr.Close()
	}()
	o.LockTimeout = 10 * time.Second
	kr2, err := OpenKeyring(path, o)
	if err != nil {
		t.Fatalf("waiting for the lock: %v", err)
	}
	kr2.Close()
}

func TestHandlesAfterClose(t *testing.T) {
	kr, _ := newKeyring(t)
	k, err := kr.Add("k", KeyAES256, KeySpec{Attributes: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.Ref()
	if err != nil {
		t.Fatal(err)
	}
	pr, err := kr.Provider()
	if err != nil {
		t.Fatal(err)
	}
	if pr.Name() != "local" {
		t.Errorf("keyring provider name %q", pr.Name())
	}
	pk, err := pr.GetKey("k", 0)
	if err != nil {
		t.Fatal(err)
	}
	pr2, _ := pr.Ref()
	pr2.Close()
	if pr.Name() != "local" {
		t.Error("closing a Ref of the borrowed provider closed it")
	}

	// Closing one reference leaves the other.
	k.Close()
	k.Close()
	if _, err := k.Wrap([]byte("data key"), nil); !errors.Is(err, ErrState) {
		t.Errorf("Wrap after Close = %v", err)
	}
	if k.ID() != "" || k.Version() != 0 || k.Type() != 0 || k.State() != 0 || k.Attributes() != nil ||
		k.ProviderName() != "" || !k.CreatedAt().IsZero() || k.Exportable() || k.String() != "<closed Key>" {
		t.Error("getters after Close return values")
	}
	if _, err := k.Ref(); !errors.Is(err, ErrState) {
		t.Errorf("Ref after Close = %v", err)
	}
	if r.ID() != "k" {
		t.Errorf("the Ref lost its key: %q", r.ID())
	}

	// Keys outlive their keyring; the borrowed provider does not.
	kr.Close()
	w, err := r.Wrap([]byte("data key"), nil)
	if err != nil {
		t.Fatalf("Wrap after the keyring closed: %v", err)
	}
	if b, err := pk.Unwrap(w, nil); err != nil {
		t.Errorf("provider key after the keyring closed: %v", err)
	} else {
		b.Close()
	}
	if _, err := pr.GetKey("k", 0); !errors.Is(err, ErrState) {
		t.Errorf("GetKey after the keyring closed = %v", err)
	}
	if pr.Name() != "" {
		t.Errorf("Name after the keyring closed = %q", pr.Name())
	}
	if _, err := kr.Get("k", 0); !errors.Is(err, ErrState) {
		t.Errorf("Get after Close = %v", err)
	}
	if _, err := kr.Provider(); !errors.Is(err, ErrState) {
		t.Errorf("Provider after Close = %v", err)
	}
	pr.Close()
	r.Close()
	pk.Close()

	var nk *Key
	if _, err := nk.Sign(nil); !errors.Is(err, ErrInvalid) || nk.ID() != "" || nk.Close() != nil {
		t.Errorf("nil Key: %v", err)
	}
	var nkr *Keyring
	if _, err := nkr.Get("k", 0); !errors.Is(err, ErrInvalid) || nkr.Close() != nil {
		t.Errorf("nil Keyring: %v", err)
	}
}

// hexID is the fingerprint KeyFromPublicPEM gives a key without an id, if
// it is the SHA-256 of the DER SubjectPublicKeyInfo.
func TestPublicKeyFingerprint(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	k, err := KeyFromPublicPEM(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	sum := sha256.Sum256(der)
	sumRaw := sha256.Sum256(pub)
	if k.ID() != hex.EncodeToString(sum[:]) && k.ID() != hex.EncodeToString(sumRaw[:]) {
		t.Errorf("fingerprint id %s is neither SHA-256(SPKI) %x nor SHA-256(raw) %x", k.ID(), sum, sumRaw)
	}
	if raw, _ := k.PublicRaw(); !bytes.Equal(raw, pub) {
		t.Error("PublicRaw of an imported Go key differs")
	}
	if _, err := KeyFromPublicPEM(p, "bad\x00id"); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL in id: %v", err)
	}
}

// ECDSA P-521: a public key from PEM verifies P-521/SHA-512 DER signatures
// made by Go's crypto/ecdsa, and the bundle model_signing 1.1.1 signed with
// P-521 (tests/vectors/manifest-p521); a keyring generates P-521 keys and
// imports the tool's key, whose signatures Go's crypto/ecdsa verifies.
func TestECDSAP521(t *testing.T) {
	sk, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&sk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	k, err := KeyFromPublicPEM(pemText, "")
	if err != nil {
		t.Fatalf("KeyFromPublicPEM(P-521): %v", err)
	}
	defer k.Close()
	if k.Type() != KeyECDSAP521 || k.Type().Name() != "ecdsa-p521" || k.Purposes() != KeyUseVerify ||
		k.ProviderName() != "public" {
		t.Errorf("P-521 key: %v %v %q", k.Type(), k.Purposes(), k.ProviderName())
	}
	if raw, err := k.PublicRaw(); err != nil || len(raw) != 133 || raw[0] != 4 {
		t.Errorf("PublicRaw = %d bytes, %v", len(raw), err)
	}
	msg := []byte("model manifest digest")
	h := sha512.Sum512(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, sk, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := k.Verify(sig, msg); !ok || err != nil {
		t.Errorf("Verify(Go's P-521 signature) = %v, %v", ok, err)
	}
	if ok, err := k.Verify(sig, msg[1:]); ok || err != nil {
		t.Errorf("Verify(another message) = %v, %v", ok, err)
	}
	_, err = k.Sign(msg)
	wantStatus(t, "Sign with a P-521 public key", err, StatusKeyUsage)

	kr, _ := newKeyring(t)
	gen := mustAdd(t, kr, "p521", KeyECDSAP521, KeySpec{})
	if gen.Purposes() != KeyUseSign|KeyUseVerify {
		t.Errorf("Add(P-521): purposes %v", gen.Purposes())
	}
	p521VerifiedByGo(t, gen, msg)
	fix := filepath.Join("..", "..", "tests", "vectors", "manifest-p521")
	priv, err := os.ReadFile(filepath.Join(fix, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := kr.Import("p521-tool", KeyECDSAP521, priv, KeySpec{})
	if err != nil {
		t.Fatalf("Import(P-521): %v", err)
	}
	defer imp.Close()
	p521VerifiedByGo(t, imp, msg)

	// The bundle model_signing signed with P-521, and its model.
	pubPEM, err := os.ReadFile(filepath.Join(fix, "signing-key-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := KeyFromPublicPEM(string(pubPEM), "signer")
	if err != nil {
		t.Fatal(err)
	}
	defer signer.Close()
	bundle, err := os.ReadFile(filepath.Join(fix, "model.sig"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := VerifyManifestKey(bundle, signer, nil)
	if err != nil {
		t.Fatalf("VerifyManifestKey(P-521 bundle): %v", err)
	}
	defer m.Close()
	d, err := m.VerifyDir(filepath.Join(fix, "model"), nil)
	if err != nil || d.Len() != 0 {
		t.Fatalf("VerifyDir: %v", err)
	}
	_, err = VerifyManifestKey(bundle, k, nil)
	wantStatus(t, "VerifyManifestKey(another P-521 key)", err, StatusManifestKeyMismatch)
	if p, err := imp.PublicPEM(); err != nil || p != string(pubPEM) {
		t.Errorf("imported PublicPEM = %q, %v", p, err)
	}
}

// A signature by k verifies with Go's crypto/ecdsa (SHA-512, ASN.1 DER).
func p521VerifiedByGo(t *testing.T, k *Key, msg []byte) {
	t.Helper()
	sig, err := k.Sign(msg)
	if err != nil {
		t.Fatalf("Sign(P-521): %v", err)
	}
	p, err := k.PublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		t.Fatal("PublicPEM: no PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P521() {
		t.Fatalf("PublicPEM is not a P-521 key: %T", pub)
	}
	h := sha512.Sum512(msg)
	if !ecdsa.VerifyASN1(ec, h[:], sig) {
		t.Errorf("Go does not verify the P-521 signature %x", sig)
	}
	h[0] ^= 1
	if ecdsa.VerifyASN1(ec, h[:], sig) {
		t.Errorf("Go verifies the P-521 signature over another digest")
	}
}
