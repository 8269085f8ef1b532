package aios

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
)

// The envelope known-answer vectors (tests/vectors/envelope-v1, FORMAT.md
// section 15), checked byte for byte by the C, Python and Go tests: every
// message opens with the keys its JSON names, in every shape (one-shot,
// stream, random access), to exactly the plaintext the JSON describes, and
// every negative vector fails with exactly the status it names.
const envVectorDir = "../../tests/vectors/envelope-v1"

type envVectorKey struct {
	Kind        string `json:"kind"`
	Type        string `json:"type"`
	Provider    string `json:"provider"`
	KeyID       string `json:"key_id"`
	Version     uint32 `json:"version"`
	MaterialHex string `json:"material_hex"`
	PrivatePEM  string `json:"private_pkcs8_pem"`
	PublicHex   string `json:"public_hex"`
}

type envVectorCase struct {
	Keys            []string          `json:"keys"`
	ExpectedContext map[string]string `json:"expected_context"`
	ContextMode     string            `json:"context_mode"`
	Expect          map[string]string `json:"expect"`
	OpenedBy        *int              `json:"opened_by"`
}

type envVector struct {
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	File       string                  `json:"file"`
	FileLen    int                     `json:"file_len"`
	FileSHA256 string                  `json:"file_sha256"`
	RewrapOf   string                  `json:"rewrap_of"`
	Keys       map[string]envVectorKey `json:"keys"`
	Context    map[string]string       `json:"context"`
	Suite      int                     `json:"suite"`
	ChunkSize  uint32                  `json:"chunk_size"`
	Plaintext  *struct {
		Len       int    `json:"len"`
		Generator string `json:"generator"`
		SHA256    string `json:"sha256"`
		Hex       string `json:"hex"`
	} `json:"plaintext"`
	Cases          []envVectorCase `json:"cases"`
	SessionRecords []struct {
		PlaintextHex string `json:"plaintext_hex"`
		AD           string `json:"ad"`
		Record       string `json:"record"`
	} `json:"session_records"`
	Documents []struct {
		Input  string `json:"input"`
		Output string `json:"output"`
		Steps  []struct {
			Mode     string   `json:"mode"`
			Pointers []string `json:"pointers"`
			RecordID string   `json:"record_id"`
		} `json:"steps"`
	} `json:"documents"`
	Fields []struct {
		Document int    `json:"document"`
		Pointer  string `json:"pointer"`
		RecordID string `json:"record_id"`
		Mode     string `json:"mode"`
		String   string `json:"string"`
		Record   string `json:"record"`
	} `json:"fields"`
	Intermediates struct {
		HeaderLen int    `json:"header_len"`
		C         string `json:"C"`
		Records   []struct {
			Kind            int    `json:"kind"`
			Provider        string `json:"provider"`
			KeyID           string `json:"key_id"`
			Version         uint32 `json:"version"`
			RecipientPublic string `json:"recipient_public"`
			Label           string `json:"label"`
		} `json:"records"`
	} `json:"intermediates"`
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// statusByName maps every name the library knows to its Status.
func statusByName(t *testing.T) map[string]Status {
	m := map[string]Status{"AIOS_OK": StatusOK}
	for _, block := range [][2]int{{-1, -99}, {-100, -199}, {-200, -299}} {
		for s := block[0]; s >= block[1]; s-- {
			if name := StatusName(Status(s)); name != "AIOS_E_UNKNOWN" {
				m[name] = Status(s)
			}
		}
	}
	return m
}

// vectorPlaintext rebuilds the plaintext the JSON describes and checks its
// SHA-256.
func vectorPlaintext(t *testing.T, v *envVector) []byte {
	t.Helper()
	if v.Plaintext == nil {
		return nil
	}
	var pt []byte
	switch {
	case v.Plaintext.Hex != "" || v.Plaintext.Len == 0:
		pt = mustHex(t, v.Plaintext.Hex)
	case v.Plaintext.Generator == "mod251":
		pt = make([]byte, v.Plaintext.Len)
		for i := range pt {
			pt[i] = byte(i % 251)
		}
	default:
		t.Fatalf("unknown plaintext generator %q", v.Plaintext.Generator)
	}
	if sum := sha256.Sum256(pt); hex.EncodeToString(sum[:]) != v.Plaintext.SHA256 || len(pt) != v.Plaintext.Len {
		t.Fatalf("plaintext (%d bytes, generator %q) does not match its SHA-256", len(pt), v.Plaintext.Generator)
	}
	return pt
}

// vectorKeys imports the vector's keys into a fresh keyring: version 1 of
// a key with Import, each later version (wrap-key-v2 of the rewrap vector)
// with ImportVersion, after the versions below it.
func vectorKeys(t *testing.T, v *envVector) map[string]*Key {
	t.Helper()
	kr, _ := newKeyring(t)
	names := make([]string, 0, len(v.Keys))
	for name := range v.Keys {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := v.Keys[names[i]], v.Keys[names[j]]
		if a.KeyID != b.KeyID {
			return a.KeyID < b.KeyID
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return names[i] < names[j]
	})
	out := map[string]*Key{}
	for _, name := range names {
		k := v.Keys[name]
		switch k.Kind {
		case "kek":
			if k.Type != "aes256" || k.Provider != "local" {
				t.Fatalf("key %s: %s/%s not supported by this test", name, k.Type, k.Provider)
			}
			var key *Key
			var err error
			if k.Version <= 1 {
				key, err = kr.Import(k.KeyID, KeyAES256, mustHex(t, k.MaterialHex), KeySpec{})
			} else {
				key, err = kr.ImportVersion(k.KeyID, mustHex(t, k.MaterialHex), false)
			}
			if err != nil {
				t.Fatalf("import %s: %v", name, err)
			}
			t.Cleanup(func() { key.Close() })
			if key.ID() != k.KeyID || key.Version() != max(k.Version, 1) {
				t.Fatalf("key %s: imported as %s version %d", name, key.ID(), key.Version())
			}
			out[name] = key
		case "x25519":
			key, err := kr.Import(k.KeyID, KeyX25519, []byte(k.PrivatePEM), KeySpec{})
			if err != nil {
				t.Fatalf("import %s: %v", name, err)
			}
			t.Cleanup(func() { key.Close() })
			if pub, err := key.PublicRaw(); err != nil || hex.EncodeToString(pub) != k.PublicHex {
				t.Fatalf("key %s: public key %x, %v; JSON says %s", name, pub, err, k.PublicHex)
			}
			out[name] = key
		default:
			t.Fatalf("key %s: unknown kind %q", name, k.Kind)
		}
	}
	return out
}

// checkShape compares one shape's outcome with what the vector expects.
func checkShape(t *testing.T, shape, want string, statuses map[string]Status, err error, got, pt []byte,
	openedBy int, wantOpenedBy *int) {
	t.Helper()
	if want == "AIOS_OK" {
		if err != nil {
			t.Errorf("%s: %v, want AIOS_OK", shape, err)
			return
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("%s: %d bytes of plaintext that differ from the vector's %d", shape, len(got), len(pt))
		}
		if wantOpenedBy != nil && openedBy != *wantOpenedBy {
			t.Errorf("%s: opened by record %d, want %d", shape, openedBy, *wantOpenedBy)
		}
		return
	}
	st, ok := statuses[want]
	if !ok {
		t.Fatalf("%s: unknown status %q in the vector", shape, want)
	}
	if !errors.Is(err, st) {
		t.Errorf("%s: %v, want %s", shape, err, want)
	}
}

func TestEnvelopeVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(envVectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d envelope vectors in %s", len(files), envVectorDir)
	}
	statuses := statusByName(t)
	ran := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v envVector
		if err := json.Unmarshal(text, &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		t.Run(v.Name, func(t *testing.T) {
			switch v.Type {
			case "message", "session", "negative", "fle":
			default:
				t.Fatalf("%s: vector type %q is not checked by the Go test yet: teach it", file, v.Type)
			}
			data, err := os.ReadFile(filepath.Join(envVectorDir, v.File))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); len(data) != v.FileLen || hex.EncodeToString(sum[:]) != v.FileSHA256 {
				t.Fatalf("%s: %d bytes, not the %d the JSON describes (or another SHA-256)", v.File, len(data), v.FileLen)
			}
			pt := vectorPlaintext(t, &v)
			keys := vectorKeys(t, &v)

			if v.Type == "message" || v.Type == "session" || v.Type == "fle" {
				info, err := Peek(data)
				if err != nil {
					t.Fatalf("Peek: %v", err)
				}
				wantType := v.Type
				if wantType == "fle" {
					wantType = "session"
				}
				if info.Type != wantType || int(info.Suite) != v.Suite || info.HeaderLen != v.Intermediates.HeaderLen ||
					hex.EncodeToString(info.SessionID) != v.Intermediates.C || len(info.Context) != len(v.Context) {
					t.Errorf("Peek: %s suite %d header %d C %x context %v; vector: %s suite %d header %d C %s context %v",
						info.Type, info.Suite, info.HeaderLen, info.SessionID, info.Context,
						wantType, v.Suite, v.Intermediates.HeaderLen, v.Intermediates.C, v.Context)
				}
				for k, val := range v.Context {
					if info.Context[k] != val {
						t.Errorf("Peek context[%q] = %q, want %q", k, info.Context[k], val)
					}
				}
				// The recipient records, unknown kinds included.
				if len(info.Recipients) != len(v.Intermediates.Records) {
					t.Errorf("Peek: %d recipients, vector %d", len(info.Recipients), len(v.Intermediates.Records))
				}
				for j, r := range v.Intermediates.Records {
					if j >= len(info.Recipients) {
						break
					}
					got := info.Recipients[j]
					var ok bool
					switch r.Kind {
					case 1:
						ok = got.Kind == "kek" && got.Provider == r.Provider && got.KeyID == r.KeyID && got.Version == r.Version
					case 2:
						ok = got.Kind == "x25519" && hex.EncodeToString(got.PublicKey) == r.RecipientPublic && got.Label == r.Label
					default:
						ok = got.Kind == "unknown" && got.KindID == r.Kind
					}
					if !ok {
						t.Errorf("Peek recipient %d = %+v, vector %+v", j, got, r)
					}
				}
				if hl, err := HeaderLen(data); err != nil || hl != v.Intermediates.HeaderLen {
					t.Errorf("HeaderLen = %d, %v; want %d", hl, err, v.Intermediates.HeaderLen)
				}
			}
			if v.RewrapOf != "" {
				// A rewrap keeps the payload byte for byte.
				orig, err := os.ReadFile(filepath.Join(envVectorDir, v.RewrapOf+".bin"))
				if err != nil {
					t.Fatal(err)
				}
				hl0, err0 := HeaderLen(orig)
				hl1, err1 := HeaderLen(data)
				if err0 != nil || err1 != nil || !bytes.Equal(orig[hl0:], data[hl1:]) {
					t.Errorf("the payload differs from %s's (%v, %v)", v.RewrapOf, err0, err1)
				}
			}

			for i, c := range v.Cases {
				var held []*Key
				for _, name := range c.Keys {
					k, ok := keys[name]
					if !ok {
						t.Fatalf("case %d names key %q, not in the vector", i, name)
					}
					held = append(held, k)
				}
				ran++
				ks := mustEnvelopeKeys(t, held, nil)
				var opts *OpenOptions
				if c.ExpectedContext != nil {
					opts = &OpenOptions{ExpectedContext: c.ExpectedContext}
					switch c.ContextMode {
					case "exact", "":
						opts.ContextMode = ContextExact
					case "subset":
						opts.ContextMode = ContextSubset
					default:
						t.Fatalf("case %d: context mode %q", i, c.ContextMode)
					}
				}
				if v.Type == "fle" {
					s, err := OpenSession(data, ks, opts)
					checkShape(t, "OpenSession", c.Expect["open"], statuses, err, nil, nil, 0, nil)
					if err == nil {
						checkFieldVectors(t, &v, s)
						s.Close()
					}
					continue
				}
				if v.Type == "session" {
					s, err := OpenSession(data, ks, opts)
					checkShape(t, "OpenSession", c.Expect["open"], statuses, err, nil, nil, 0, nil)
					if err != nil {
						continue
					}
					if info, err := s.Info(); err != nil || c.OpenedBy != nil && info.OpenedBy != *c.OpenedBy {
						t.Errorf("session info: %+v, %v", info, err)
					}
					id := s.ID()
					for j, r := range v.SessionRecords {
						rec := mustHex(t, r.Record)
						got, err := s.OpenRecord(rec, mustHex(t, r.AD))
						if err != nil || !bytes.Equal(got, mustHex(t, r.PlaintextHex)) {
							t.Errorf("record %d: %x, %v; want %s", j, got, err, r.PlaintextHex)
						}
						if rid, err := RecordSessionID(rec); err != nil || rid != id {
							t.Errorf("record %d: RecordSessionID %x, %v; want %x", j, rid, err, id)
						}
					}
					s.Close()
					continue
				}

				// One-shot.
				got, err := Open(data, ks, opts)
				checkShape(t, "Open", c.Expect["open"], statuses, err, got, pt, -1, nil)

				// Streamed, in pieces that do not line up with chunks.
				openedBy := -1
				or, err := NewOpenReader(iotest.HalfReader(bytes.NewReader(data)), ks, opts)
				if err != nil {
					t.Fatal(err)
				}
				got, err = io.ReadAll(or)
				if err == nil {
					if info, ierr := or.Info(); ierr == nil {
						openedBy = info.OpenedBy
					}
				}
				or.Close()
				checkShape(t, "OpenReader", c.Expect["stream"], statuses, err, got, pt, openedBy, c.OpenedBy)

				// Random access: the whole plaintext through ReadAt.
				openedBy = -1
				got = nil
				r, err := NewEnvelopeReader(data, ks, opts)
				if err == nil {
					got, err = io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
					if info, ierr := r.Info(); ierr == nil {
						openedBy = info.OpenedBy
					}
					r.Close()
				}
				checkShape(t, "EnvelopeReader", c.Expect["reader"], statuses, err, got, pt, openedBy, c.OpenedBy)
			}
		})
	}
	t.Logf("%d vector cases run", ran)
	if ran == 0 {
		t.Error("no vector case ran")
	}
}

// checkFieldVectors decrypts every document of an fle vector with the
// session opened from its header and checks what FORMAT.md 11 promises
// about the strings.
func checkFieldVectors(t *testing.T, v *envVector, s *Session) {
	t.Helper()
	if info, err := s.Info(); err != nil || !info.Deterministic {
		t.Errorf("fle session: %+v, %v; want a deterministic session", info, err)
	}
	if len(v.Documents) == 0 || len(v.Fields) == 0 {
		t.Fatal("fle vector without documents or fields")
	}
	for i, d := range v.Documents {
		rid := ""
		for _, st := range d.Steps {
			if st.RecordID != "" {
				rid = st.RecordID
			}
		}
		var opts *FieldsOptions
		if rid != "" {
			opts = &FieldsOptions{RecordID: []byte(rid)}
		}
		got, err := DecryptFields([]byte(d.Output), []*Session{s}, opts)
		if err != nil {
			t.Errorf("document %d: DecryptFields: %v", i, err)
			continue
		}
		if string(got) != d.Input {
			t.Errorf("document %d: DecryptFields gave\n%s\nwant\n%s", i, got, d.Input)
		}
		if rid != "" {
			_, err := DecryptFields([]byte(d.Output), []*Session{s}, nil)
			if !errors.Is(err, StatusAuth) {
				t.Errorf("document %d without its record id: %v, want AIOS_E_AUTH", i, err)
			}
		}
	}
	id := s.ID()
	strs := map[string]string{} // "<document> <pointer> <record id>" -> string
	for _, f := range v.Fields {
		if !strings.HasPrefix(f.String, "aios:f1:") {
			t.Errorf("field %s: %q", f.Pointer, f.String)
			continue
		}
		rec, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(f.String, "aios:f1:"))
		if err != nil || hex.EncodeToString(rec) != f.Record {
			t.Errorf("field %s: the string does not hold the record (%v)", f.Pointer, err)
		}
		if rid, err := RecordSessionID(rec); err != nil || rid != id {
			t.Errorf("field %s: RecordSessionID %x, %v; want %x", f.Pointer, rid, err, id)
		}
		if f.Document >= 0 && f.Document < len(v.Documents) && !strings.Contains(v.Documents[f.Document].Output, `"`+f.String+`"`) {
			t.Errorf("field %s: not in document %d's output", f.Pointer, f.Document)
		}
		strs[fmt.Sprint(f.Document, " ", f.Pointer, " ", f.RecordID)] = f.String
	}
	// Deterministic: equal at one pointer across documents; different at
	// two pointers, and under a record id.
	if a, b := strs["0 /ssn "], strs["1 /ssn "]; a == "" || a != b {
		t.Errorf("/ssn in documents 0 and 1: %q, %q; want equal strings", a, b)
	}
	if a, b := strs["0 /country "], strs["1 /country "]; a == "" || a != b {
		t.Errorf("/country in documents 0 and 1: %q, %q; want equal strings", a, b)
	}
	if a, b := strs["0 /ssn "], strs["0 /ssn2 "]; a == "" || a == b {
		t.Errorf("/ssn and /ssn2: %q, %q; want different strings", a, b)
	}
	if a, b := strs["1 /ssn "], strs["2 /ssn p-2"]; a == "" || a == b {
		t.Errorf("/ssn with and without a record id: %q, %q; want different strings", a, b)
	}
}
