package aios_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	aios "github.com/libaios/libaios/bindings/go"
)

// exampleKeyring creates a keyring under a raw master key in a temporary
// directory (a real host would use a passphrase, a master key from its
// secret store, or a PKCS#11 token).
func exampleKeyring() (*aios.Keyring, func()) {
	dir, err := os.MkdirTemp("", "aios-example")
	if err != nil {
		log.Fatal(err)
	}
	master := bytes.Repeat([]byte{0x11}, 32)
	kr, err := aios.CreateKeyring(filepath.Join(dir, "app.keyring"), aios.KeyringOptions{MasterKey: master})
	aios.Wipe(master)
	if err != nil {
		log.Fatal(err)
	}
	return kr, func() { kr.Close(); os.RemoveAll(dir) }
}

func ExampleCreateKeyring() {
	dir, _ := os.MkdirTemp("", "aios-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.keyring")

	// Cheap Argon2id parameters for the example; keep the defaults in
	// production.
	opts := aios.KeyringOptions{Passphrase: []byte("correct horse battery staple"), Argon2Ops: 1, Argon2Mem: 8 << 20}
	kr, err := aios.CreateKeyring(path, opts)
	if err != nil {
		log.Fatal(err)
	}
	k, err := kr.Add("tenant-a/kek", aios.KeyAES256, aios.KeySpec{
		Attributes: map[string]string{"tenant": "a"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.ID(), k.Version(), k.Type(), k.Purposes(), k.State(), k.ProviderName())
	k.Close()
	kr.Close()

	_, err = aios.OpenKeyring(path, aios.KeyringOptions{Passphrase: []byte("wrong")})
	fmt.Println(errors.Is(err, aios.StatusKeyringPassphrase), errors.Is(err, aios.ErrAuth))
	// Output:
	// tenant-a/kek 1 aes256 wrap active local
	// true true
}

// Envelope encryption's first step: a random data key, wrapped under a
// key-encryption key and bound to its context.
func ExampleKey_Wrap() {
	kr, done := exampleKeyring()
	defer done()
	kek, _ := kr.Add("kek", aios.KeyAES256, aios.KeySpec{})
	defer kek.Close()

	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	wrapped, err := kek.Wrap(dataKey, []byte("tenant=a"))
	if err != nil {
		log.Fatal(err)
	}

	dk, err := kek.Unwrap(wrapped, []byte("tenant=a"))
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Close() // wipes
	_ = dk.View(func(b []byte) error {
		fmt.Println(bytes.Equal(b, dataKey), dk.Secure())
		return nil
	})
	aios.Wipe(dataKey)

	_, err = kek.Unwrap(wrapped, []byte("tenant=b"))
	fmt.Println(errors.Is(err, aios.ErrAuth))
	// Output:
	// true true
	// true
}

func ExampleKey_Sign() {
	kr, done := exampleKeyring()
	defer done()
	signer, _ := kr.Add("release-signer", aios.KeyEd25519, aios.KeySpec{})
	defer signer.Close()

	sig, _ := signer.Sign([]byte("model v1"))
	ok, _ := signer.Verify(sig, []byte("model v1"))
	bad, err := signer.Verify(sig, []byte("model v2"))
	fmt.Println(len(sig), ok, bad, err)
	// Output: 64 true false <nil>
}

// Verifiers need only the public key.
func ExampleKeyFromPublicPEM() {
	kr, done := exampleKeyring()
	defer done()
	signer, _ := kr.Add("release-signer", aios.KeyECDSAP256, aios.KeySpec{})
	defer signer.Close()
	pemText, _ := signer.PublicPEM()
	sig, _ := signer.Sign([]byte("model v1"))

	pub, err := aios.KeyFromPublicPEM(pemText, "release-signer")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	ok, _ := pub.Verify(sig, []byte("model v1"))
	fmt.Println(pub.ProviderName(), pub.Type(), pub.Purposes(), ok)
	// Output: public ecdsa-p256 verify true
}

func ExampleKey_MAC() {
	kr, done := exampleKeyring()
	defer done()
	k, _ := kr.Add("pseudonyms", aios.KeyHMACSHA256, aios.KeySpec{})
	defer k.Close()
	a, _ := k.MAC([]byte("alice@example.com"))
	b, _ := k.MAC([]byte("alice@example.com"))
	fmt.Println(len(a), a == b)
	// Output: 32 true
}

// Rotation: the new version wraps; the old one only unwraps.
func ExampleKeyring_Rotate() {
	kr, done := exampleKeyring()
	defer done()
	v1, _ := kr.Add("kek", aios.KeyAES256, aios.KeySpec{})
	defer v1.Close()
	old, _ := v1.Wrap([]byte("data key"), nil)

	v2, err := kr.Rotate("kek")
	if err != nil {
		log.Fatal(err)
	}
	defer v2.Close()
	fmt.Println(v1.Version(), v1.State(), v2.Version(), v2.State())

	_, err = v1.Wrap([]byte("data key"), nil)
	fmt.Println(errors.Is(err, aios.StatusKeyDecryptOnly))
	dk, err := v1.Unwrap(old, nil)
	fmt.Println(err)
	dk.Close()

	// Retire version 1 for good.
	_ = kr.SetMinDecryptVersion("kek", 2)
	_, err = v1.Unwrap(old, nil)
	fmt.Println(errors.Is(err, aios.StatusKeyDisabled))
	// Output:
	// 1 decrypt-only 2 active
	// true
	// <nil>
	// true
}

func ExampleKeyring_List() {
	kr, done := exampleKeyring()
	defer done()
	k, _ := kr.Add("kek", aios.KeyAES256, aios.KeySpec{})
	k.Close()
	k, _ = kr.Rotate("kek")
	k.Close()
	keys, _ := kr.List()
	for _, key := range keys {
		fmt.Println(key.ID, key.Type, "primary", key.Primary)
		for _, v := range key.Versions {
			fmt.Println(" ", v.Version, v.State)
		}
	}
	// Output:
	// kek aes256 primary 2
	//   1 decrypt-only
	//   2 active
}

// memoryKMS is a stand-in for a cloud KMS: one AES-GCM key per id.
type memoryKMS struct{ keys map[string]cipher.AEAD }

var errThrottled = errors.New("kms: throttled")

func (m *memoryKMS) Describe(ctx context.Context, keyID string, version uint32) (aios.ProviderKeyInfo, error) {
	if _, ok := m.keys[keyID]; !ok {
		return aios.ProviderKeyInfo{}, aios.StatusKeyNotFound
	}
	return aios.ProviderKeyInfo{Version: 1, Type: aios.KeyAES256}, nil
}

func (m *memoryKMS) Wrap(ctx context.Context, keyID string, version uint32, dataKey, ad []byte) ([]byte, error) {
	g := m.keys[keyID]
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, dataKey, ad), nil
}

func (m *memoryKMS) Unwrap(ctx context.Context, keyID string, version uint32, wrapped, ad []byte) ([]byte, error) {
	if bytes.Equal(ad, []byte("busy")) {
		return nil, errThrottled
	}
	g := m.keys[keyID]
	if len(wrapped) < g.NonceSize() {
		return nil, aios.StatusAuth
	}
	dk, err := g.Open(nil, wrapped[:g.NonceSize()], wrapped[g.NonceSize():], ad)
	if err != nil {
		return nil, aios.StatusAuth // the library reports ErrAuth
	}
	return dk, nil
}

// A KMS written in Go as a key provider: its keys work like any other,
// and its own errors come back out of the library unchanged.
func ExampleNewCallbackProvider() {
	block, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	g, _ := cipher.NewGCM(block)
	kms := &memoryKMS{keys: map[string]cipher.AEAD{"projects/p/keys/k": g}}

	p, err := aios.NewCallbackProvider("memkms", kms, 2*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	kek, err := p.GetKey("projects/p/keys/k", 0)
	if err != nil {
		log.Fatal(err)
	}
	defer kek.Close()
	fmt.Println(kek.ProviderName(), kek.Type())

	wrapped, _ := kek.Wrap([]byte("0123456789abcdef"), []byte("ctx"))
	dk, err := kek.Unwrap(wrapped, []byte("ctx"))
	fmt.Println(err)
	dk.Close()

	_, err = kek.Unwrap(wrapped, []byte("busy"))
	fmt.Println(errors.Is(err, errThrottled), errors.Is(err, aios.ErrCallback))
	_, err = kek.Unwrap(wrapped, []byte("other"))
	fmt.Println(errors.Is(err, aios.ErrAuth))
	_, err = p.GetKey("projects/p/keys/missing", 0)
	fmt.Println(errors.Is(err, aios.StatusKeyNotFound))
	// Output:
	// callback:memkms aes256
	// <nil>
	// true true
	// true
	// true
}

func ExampleNewDataKeyCache() {
	kr, done := exampleKeyring()
	defer done()
	kek, _ := kr.Add("kek", aios.KeyAES256, aios.KeySpec{})
	defer kek.Close()

	cache, err := aios.NewDataKeyCache(aios.DataKeyCacheOptions{MaxAge: time.Minute, MaxMessages: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	context := []byte("tenant=a")
	const suite = 1
	if _, err := cache.Get(kek, context, suite, 4096); errors.Is(err, aios.ErrNotFound) {
		dataKey := make([]byte, 32)
		rand.Read(dataKey)
		wrapped, _ := kek.Wrap(dataKey, context)
		_ = cache.Put(kek, context, suite, dataKey, wrapped)
		aios.Wipe(dataKey)
	}
	e, err := cache.Get(kek, context, suite, 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Release()
	_ = e.View(func(dataKey, wrapped []byte) error {
		fmt.Println(len(dataKey), len(wrapped) > 0)
		return nil
	})
	st, _ := cache.Stats()
	fmt.Println(st.Hits, st.Misses, st.Entries)
	// Output:
	// 32 true
	// 1 1 1
}
