package aios

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The manifest writer's known-answer bundles (tests/vectors/manifest-v1;
// the C side is tests/unit/test_manifest_vectors.c and the README there
// describes every file): every committed bundle verifies with its public
// key, names the root digest the README lists, and the committed model
// verifies against it; signing the model again through the binding, with
// the committed keys imported into a temporary keyring, gives the same
// bytes.

const manifestVectorDir = "../../tests/vectors/manifest-v1"

type manifestVector struct {
	Name            string   `json:"name"`
	Bundle          string   `json:"bundle"`
	KeyID           string   `json:"key_id"`
	PrivateKey      string   `json:"private_key"`
	PublicKey       string   `json:"public_key"`
	Profile         string   `json:"profile"`
	Method          string   `json:"method"`
	ShardSize       uint64   `json:"shard_size"`
	HashType        string   `json:"hash_type"`
	SubjectName     string   `json:"subject_name"`
	RootDigest      string   `json:"root_digest"`
	StatementDigest string   `json:"statement_digest"`
	Resources       []string `json:"resources"`
}

var manifestVectorKeyTypes = map[string]KeyType{
	"p256": KeyECDSAP256, "p384": KeyECDSAP384, "ed25519": KeyEd25519,
}

func readManifestVectorFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifestVectorDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadManifestVectors(t *testing.T) []manifestVector {
	t.Helper()
	var doc struct {
		Cases []manifestVector `json:"cases"`
	}
	if err := json.Unmarshal(readManifestVectorFile(t, "vectors.json"), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range doc.Cases {
		names = append(names, c.Name)
	}
	want := []string{"files-ms1-p256", "files-ms1-p384", "files-ms1-ed25519", "files-oms-p256", "shards-ms1-p256"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("vectors.json cases %v, want %v", names, want)
	}
	return doc.Cases
}

func (c manifestVector) profile(t *testing.T) ManifestProfile {
	switch c.Profile {
	case "model-signing-1":
		return ManifestProfileModelSigning1
	case "oms-1.0":
		return ManifestProfileOMS10
	}
	t.Fatalf("%s: profile %q", c.Name, c.Profile)
	return 0
}

func (c manifestVector) method(t *testing.T) ManifestMethod {
	switch c.Method {
	case "files":
		return ManifestFiles
	case "shards":
		return ManifestShards
	}
	t.Fatalf("%s: method %q", c.Name, c.Method)
	return 0
}

func manifestVectorPublic(t *testing.T, c manifestVector) *Key {
	t.Helper()
	k, err := KeyFromPublicPEM(string(readManifestVectorFile(t, c.PublicKey)), c.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestManifestVectorsVerify(t *testing.T) {
	cases := loadManifestVectors(t)
	readme := string(readManifestVectorFile(t, "README.md"))
	model := filepath.Join(manifestVectorDir, "model")
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			bundle := readManifestVectorFile(t, c.Bundle)
			vo := &ManifestVerifyOptions{Profile: c.profile(t)}
			m, err := VerifyManifestKey(bundle, manifestVectorPublic(t, c), vo)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !m.Verified() {
				t.Fatal("not verified")
			}
			root, st := m.RootDigest(), m.StatementDigest()
			if got := hex.EncodeToString(root[:]); got != c.RootDigest {
				t.Fatalf("root digest %s, want %s", got, c.RootDigest)
			}
			if got := hex.EncodeToString(st[:]); got != c.StatementDigest {
				t.Fatalf("statement digest %s, want %s", got, c.StatementDigest)
			}
			row := ""
			for _, line := range strings.Split(readme, "\n") {
				if strings.HasPrefix(line, "| `"+c.Name+"` |") {
					row = line
				}
			}
			if !strings.Contains(row, c.RootDigest) {
				t.Fatalf("README.md's row of %s does not list %s", c.Name, c.RootDigest)
			}
			if m.SubjectName() != "manifest-v1" || m.SubjectName() != c.SubjectName ||
				m.Method() != c.method(t) || m.Profile() != c.profile(t) || m.ShardSize() != c.ShardSize ||
				m.HashType() != "sha256" {
				t.Fatalf("subject %q method %v profile %v shard %d hash %s", m.SubjectName(), m.Method(),
					m.Profile(), m.ShardSize(), m.HashType())
			}
			var names []string
			empty := false
			for _, r := range m.Resources() {
				names = append(names, r.Name)
				empty = empty || r.Name == "empty" || strings.HasPrefix(r.Name, "empty:")
			}
			if !reflect.DeepEqual(names, c.Resources) {
				t.Fatalf("resources %q, want %q", names, c.Resources)
			}
			if empty != (c.Method == "files") {
				t.Fatalf("empty file named: %v (method %s)", empty, c.Method)
			}
			d, err := m.VerifyDir(model, vo)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range d.Items {
				if it.Kind != ManifestExtraEmpty || it.Path != "empty" || c.Method != "shards" {
					t.Fatalf("unexpected change %v %q", it.Kind, it.Path)
				}
			}
			for _, o := range cases {
				if o.KeyID == c.KeyID {
					continue
				}
				if om, err := VerifyManifestKey(bundle, manifestVectorPublic(t, o), vo); err == nil {
					om.Close()
					t.Fatalf("verified with %s's key", o.KeyID)
				}
				break
			}
		})
	}
}

func TestManifestVectorsTampered(t *testing.T) {
	c := loadManifestVectors(t)[0]
	m, err := VerifyManifestKey(readManifestVectorFile(t, c.Bundle), manifestVectorPublic(t, c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	src := filepath.Join(manifestVectorDir, "model")
	dst := filepath.Join(t.TempDir(), "model")
	err = filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.VerifyDir(dst, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dst, "tok.json"))
	b[len(b)/2] ^= 1
	if err := os.WriteFile(filepath.Join(dst, "tok.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := m.VerifyDir(dst, nil)
	wantStatus(t, "tampered tok.json", err, StatusManifestMismatch)
	if d == nil || len(d.Items) != 1 || d.Items[0].Kind != ManifestModified || d.Items[0].Path != "tok.json" {
		t.Fatalf("diff %+v", d)
	}
}

func TestManifestVectorsResign(t *testing.T) {
	cases := loadManifestVectors(t)
	kr, err := CreateKeyring(filepath.Join(t.TempDir(), "keys"), KeyringOptions{MasterKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	keys := map[string]*Key{}
	for id, typ := range manifestVectorKeyTypes {
		k, err := kr.Import(id, typ, readManifestVectorFile(t, filepath.Join("keys", id+".pem")), KeySpec{})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		keys[id] = k
	}
	model := filepath.Join(manifestVectorDir, "model")
	for _, c := range cases {
		so := &ManifestSignOptions{Profile: c.profile(t), Method: c.method(t), ShardSize: c.ShardSize,
			SubjectName: c.SubjectName}
		bundle, m, err := SignManifest(model, keys[c.KeyID], so)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		root := m.RootDigest()
		m.Close()
		if got := hex.EncodeToString(root[:]); got != c.RootDigest {
			t.Fatalf("%s: root digest %s, want %s", c.Name, got, c.RootDigest)
		}
		if !bytes.Equal(bundle, readManifestVectorFile(t, c.Bundle)) {
			t.Fatalf("%s: the bundle signed again differs from %s", c.Name, c.Bundle)
		}
	}
}
