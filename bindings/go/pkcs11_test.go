package aios

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// A real token: SoftHSM2 in a temporary directory, with an AES key that
// wraps, an ECDSA P-256 key pair that signs, and an AES key that unlocks a
// keyring. The token library reads SOFTHSM2_CONF when the first provider
// initialises it, so everything runs in this one test.
func TestPKCS11SoftHSM(t *testing.T) {
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Skipf("SoftHSM2 is not installed (%s: %v); install softhsm2 to run this test", softhsmModule, err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Skipf("SoftHSM2 is installed but softhsm2-util is not on PATH: %v", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\n"+
		"log.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(util, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
		}
	}
	const pin = "1234"
	run("--init-token", "--free", "--label", "aiosgo", "--so-pin", "000000", "--pin", pin)
	aesFile := filepath.Join(dir, "kek.bin")
	os.WriteFile(aesFile, bytes.Repeat([]byte{0x5a}, 32), 0o600)
	run("--import", aesFile, "--aes", "--token", "aiosgo", "--label", "kek", "--id", "01", "--pin", pin)
	masterFile := filepath.Join(dir, "master.bin")
	os.WriteFile(masterFile, bytes.Repeat([]byte{0xa5}, 32), 0o600)
	run("--import", masterFile, "--aes", "--token", "aiosgo", "--label", "master", "--id", "03", "--pin", pin)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecFile := filepath.Join(dir, "signer.pem")
	os.WriteFile(ecFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	run("--import", ecFile, "--token", "aiosgo", "--label", "signer", "--id", "02", "--pin", pin)

	p, err := NewPKCS11Provider(softhsmModule, "pkcs11:token=aiosgo", pin)
	if err != nil {
		t.Fatalf("NewPKCS11Provider: %v", err)
	}
	defer p.Close()
	if p.Name() != "pkcs11" {
		t.Errorf("Name() = %q", p.Name())
	}

	t.Run("wrap", func(t *testing.T) {
		k, err := p.GetKey("kek", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if k.Type() != KeyAES256 || k.Version() != 1 || k.ProviderName() != "pkcs11" || !k.Purposes().Has(KeyUseWrap) {
			t.Errorf("kek: %s %v %v", k, k.Purposes(), k.ProviderName())
		}
		dk := []byte("0123456789abcdef0123456789abcdef")
		w, err := k.Wrap(dk, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Unwrap(w, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Bytes(); !bytes.Equal(got, dk) {
			t.Errorf("Unwrap = %x", got)
		}
		b.Close()
		_, err = k.Unwrap(w, []byte("other ad"))
		wantStatus(t, "Unwrap(other ad) in the token", err, StatusAuth)
		_, err = k.Export()
		wantStatus(t, "Export from a token", err, StatusKeyNotExportable)
	})

	t.Run("sign", func(t *testing.T) {
		k, err := p.GetKey("signer", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if k.Type() != KeyECDSAP256 {
			t.Errorf("signer: %v", k.Type())
		}
		msg := []byte("weights")
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&ec.PublicKey, h[:], sig) {
			t.Error("the token's signature does not verify with crypto/ecdsa")
		}
		if ok, err := k.Verify(sig, msg); !ok || err != nil {
			t.Errorf("Verify = %v, %v", ok, err)
		}
		pubPEM, err := k.PublicPEM()
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode([]byte(pubPEM))
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil || !ec.PublicKey.Equal(pub) {
			t.Errorf("PublicPEM is not the imported key: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := p.GetKey("missing", 0)
		wantStatus(t, "GetKey(missing)", err, StatusKeyNotFound)
		_, err = NewPKCS11Provider(softhsmModule, "pkcs11:token=aiosgo", "9999")
		wantStatus(t, "a wrong PIN", err, StatusPKCS11PIN)
		_, err = p.GetKey("kek", 2)
		wantStatus(t, "GetKey(kek, 2)", err, StatusKeyVersionNotFound)
		if k, err := p.GetKey("kek", 1); err != nil || k.Version() != 1 {
			t.Errorf("GetKey(kek, 1) = %v, %v", k, err)
		} else {
			k.Close()
		}
		_, err = NewPKCS11Provider(softhsmModule, "pkcs11:token=no-such-token", pin)
		wantStatus(t, "an unknown token", err, StatusNotFound)
		// The module from the URI, the PIN from its pin-value.
		p2, err := NewPKCS11Provider("", "pkcs11:token=aiosgo?module-path="+softhsmModule+"&pin-value="+pin, "")
		if err != nil {
			t.Errorf("module-path and pin-value in the URI: %v", err)
		} else {
			if k, err := p2.GetKey("kek", 0); err != nil {
				t.Errorf("GetKey through the second provider: %v", err)
			} else {
				k.Close()
			}
			p2.Close()
		}
		_, err = NewPKCS11Provider(filepath.Join(dir, "no-such-module.so"), "pkcs11:token=aiosgo", pin)
		if err == nil {
			t.Error("a missing module loaded")
		}
		_, err = NewPKCS11Provider(softhsmModule, "not a uri", pin)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("a malformed URI: %v", err)
		}
	})

	t.Run("keyring unlock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hsm.keyring")
		opts := KeyringOptions{PKCS11: &PKCS11Unlock{Module: softhsmModule,
			URI: "pkcs11:token=aiosgo;object=master", PIN: pin}}
		kr, err := CreateKeyring(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kr.Add("kek", KeyAES256, KeySpec{})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := k.Wrap([]byte("data key"), nil)
		k.Close()
		kr.Close()
		kr, err = OpenKeyring(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer kr.Close()
		k, err = kr.Get("kek", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		b, err := k.Unwrap(w, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		kr.Close()
		bad := opts
		bad.PKCS11 = &PKCS11Unlock{Module: softhsmModule, URI: "pkcs11:token=aiosgo;object=kek", PIN: pin}
		if _, err := OpenKeyring(path, bad); !errors.Is(err, ErrAuth) {
			t.Errorf("opened with another token key: %v", err)
		}
	})
}
