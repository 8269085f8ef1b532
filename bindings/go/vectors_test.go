package aios

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The committed keyring vector (tests/vectors/keyring-v1.aioskr, format of
// docs/KEYRING.md) opens through the binding and lists exactly the
// expected keys: the C, Python and Go tests all pin the same bytes.
func TestKeyringVector(t *testing.T) {
	dir := filepath.Join("..", "..", "tests", "vectors")
	want, err := os.ReadFile(filepath.Join(dir, "keyring-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := OpenKeyring(filepath.Join(dir, "keyring-v1.aioskr"), KeyringOptions{
		Passphrase: []byte("correct horse battery staple"),
		ReadOnly:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()

	got, err := kr.ListJSON()
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("listing differs from keyring-v1.json:\n got %s\nwant %s", got, want)
	}

	kek, err := kr.Get("wrap-key", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()
	if kek.Version() != 3 {
		t.Fatalf("primary version %d, want 3", kek.Version())
	}
	wrapped, err := kek.Wrap(make([]byte, 32), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := kr.Get("wrap-key", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if _, err := gone.Unwrap(wrapped, []byte("ad")); !errors.Is(err, StatusKeyDestroyed) {
		t.Fatalf("destroyed version: got %v, want StatusKeyDestroyed", err)
	}

	if _, err := OpenKeyring(filepath.Join(dir, "keyring-v1.aioskr"), KeyringOptions{
		Passphrase: []byte("wrong"), ReadOnly: true,
	}); !errors.Is(err, StatusKeyringPassphrase) {
		t.Fatalf("wrong passphrase: got %v", err)
	}
}
