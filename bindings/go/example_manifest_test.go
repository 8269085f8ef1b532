package aios_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	aios "github.com/libaios/libaios/bindings/go"
)

// The README's manifest example: sign a model, verify the bundle with the
// public key, check the directory, then read one file through the
// verifier, whole units at a time.
func ExampleManifestStream_ReadVerified() {
	kr, done := exampleKeyring()
	defer done()
	key, err := kr.Add("model-signer", aios.KeyECDSAP256, aios.KeySpec{})
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	pem, _ := key.PublicPEM()
	pub, err := aios.KeyFromPublicPEM(pem, "model-signer.pub")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()

	model, _ := os.MkdirTemp("", "aios-model")
	defer os.RemoveAll(model)
	os.MkdirAll(filepath.Join(model, "weights"), 0o755)
	os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"layers": 2}`), 0o644)
	os.WriteFile(filepath.Join(model, "weights", "part-1.bin"), make([]byte, 3<<20), 0o644)

	bundle, signed, err := aios.SignManifest(model, key, &aios.ManifestSignOptions{
		BundlePath: filepath.Join(model, "model.sig"), // written atomically, excluded from the model
	})
	if err != nil {
		log.Fatal(err)
	}
	signed.Close()
	m, err := aios.VerifyManifestKey(bundle, pub, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	diff, err := m.VerifyDir(model, nil)
	if errors.Is(err, aios.StatusManifestMismatch) {
		for _, c := range diff.Items {
			fmt.Println(c.Kind, c.Path)
		}
	}
	fmt.Println("directory:", err)

	root, _ := os.Open(model)
	defer root.Close()
	s, err := m.OpenStream(root, "weights/part-1.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, s.UnitSize()) // one whole unit: the whole file with the files method
	n, err := s.ReadVerified(buf)
	fmt.Println("verified bytes:", n, err)
	_, err = s.ReadVerified(buf)
	fmt.Println(err == io.EOF)
	// Output:
	// directory: <nil>
	// verified bytes: 3145728 <nil>
	// true
}
