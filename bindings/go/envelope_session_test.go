package aios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func mustSession(t *testing.T, recipients []*Key, ctx map[string]string, opts *SessionOptions) *Session {
	t.Helper()
	s, err := NewSession(recipients, ctx, opts)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustOpenSession(t *testing.T, header []byte, keys *EnvelopeKeys, opts *OpenOptions) *Session {
	t.Helper()
	s, err := OpenSession(header, keys, opts)
	if err != nil {
		t.Fatalf("OpenSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEnvelopeSession(t *testing.T) {
	f := newEnvFixture(t)
	for _, suite := range []Suite{SuiteAES256GCM, SuiteXChaCha20Poly1305} {
		t.Run(suite.String(), func(t *testing.T) {
			w := mustSession(t, []*Key{f.kek, f.xpub}, f.context, &SessionOptions{Suite: suite})
			header := w.Header()
			id := w.ID()
			if len(header) == 0 || id == [EnvelopeSessionIDLen]byte{} {
				t.Fatalf("header %d bytes, id %x", len(header), id)
			}
			info, err := w.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Type != "session" || info.Suite != suite || !bytes.Equal(info.SessionID, id[:]) ||
				info.HeaderLen != len(header) || info.Context["tenant"] != "acme" || len(info.Recipients) != 2 {
				t.Errorf("session info %+v", info)
			}
			if p, err := Peek(header); err != nil || p.Type != "session" || p.Authenticated {
				t.Errorf("Peek(session header) = %+v, %v", p, err)
			}

			// Readers with either key.
			r1 := mustOpenSession(t, header, f.keys, &OpenOptions{ExpectedContext: f.context})
			r2 := mustOpenSession(t, header, mustEnvelopeKeys(t, []*Key{f.xpriv}, nil), nil)
			if r1.ID() != id || r2.ID() != id || !bytes.Equal(r1.Header(), header) {
				t.Error("opened session has another id or header")
			}
			if ri, err := r2.Info(); err != nil || !ri.Authenticated || ri.OpenedBy != 1 {
				t.Errorf("reader info %+v, %v", ri, err)
			}

			for _, n := range []int{0, 1, 1000, 70000} {
				for _, ad := range [][]byte{nil, []byte("row 42")} {
					pt := randBytes(n)
					rec, err := w.Seal(pt, ad)
					if err != nil {
						t.Fatalf("Seal(%d): %v", n, err)
					}
					if len(rec) != n+EnvelopeRecordOverhead {
						t.Errorf("record of %d bytes for %d", len(rec), n)
					}
					if rid, err := RecordSessionID(rec); err != nil || rid != id {
						t.Errorf("RecordSessionID = %x, %v; want %x", rid, err, id)
					}
					for _, r := range []*Session{w, r1, r2} {
						got, err := r.OpenRecord(rec, ad)
						if err != nil || !bytes.Equal(got, pt) {
							t.Fatalf("OpenRecord(%d, ad %q): %d bytes, %v", n, ad, len(got), err)
						}
					}
					_, err = r1.OpenRecord(rec, []byte("row 43"))
					wantStatus(t, "OpenRecord with another ad", err, StatusAuth)
					bad := bytes.Clone(rec)
					bad[len(bad)-1] ^= 1
					_, err = r1.OpenRecord(bad, ad)
					wantStatus(t, "OpenRecord of a changed record", err, StatusAuth)
				}
			}
			// Equal plaintexts give unrelated records.
			a, _ := w.Seal([]byte("same"), nil)
			b, _ := w.Seal([]byte("same"), nil)
			if bytes.Equal(a, b) {
				t.Error("two records of the same plaintext are equal")
			}

			// Readers do not write.
			if _, err := r1.Seal([]byte("x"), nil); !errors.Is(err, ErrState) {
				t.Errorf("Seal on an opened session: %v, want ErrState", err)
			}
		})
	}
}

func TestEnvelopeSessionErrors(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, f.context, nil)
	other := mustSession(t, []*Key{f.kek}, f.context, nil)
	rec, err := w.Seal([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.OpenRecord(rec, nil)
	wantStatus(t, "OpenRecord under another session", err, StatusEnvelopeUnknownSession)
	_, err = RecordSessionID([]byte("not a record at all, not at all, no, not a record at all, really not"))
	wantStatus(t, "RecordSessionID(garbage)", err, StatusFormat)

	_, err = OpenSession(w.Header(), mustEnvelopeKeys(t, []*Key{f.other}, nil), nil)
	wantStatus(t, "OpenSession with another key", err, StatusEnvelopeNoRecipient)
	_, err = OpenSession(w.Header(), f.keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "evil"}, ContextMode: ContextSubset})
	wantStatus(t, "OpenSession with a wrong context", err, StatusEnvelopeContextMismatch)
	_, err = OpenSession(append(w.Header(), 0), f.keys, nil)
	wantStatus(t, "OpenSession with a byte appended", err, StatusEnvelopeTrailingData)
	bad := w.Header()
	bad[len(bad)-1] ^= 1
	_, err = OpenSession(bad, f.keys, nil)
	wantStatus(t, "OpenSession of a changed header", err, StatusAuth)
	msg := mustSeal(t, []byte("m"), []*Key{f.kek}, nil, nil)
	if _, err := OpenSession(msg, f.keys, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("OpenSession of a message: %v, want ErrInvalid", err)
	}
	if _, err := Open(w.Header(), f.keys, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open of a session header: %v, want ErrInvalid", err)
	}

	// MaxRecords.
	lim := mustSession(t, []*Key{f.kek}, nil, &SessionOptions{MaxRecords: 2})
	for i := 0; i < 2; i++ {
		if _, err := lim.Seal([]byte("x"), nil); err != nil {
			t.Fatalf("Seal %d: %v", i, err)
		}
	}
	if _, err := lim.Seal([]byte("x"), nil); !errors.Is(err, ErrLimit) {
		t.Errorf("Seal past MaxRecords: %v, want ErrLimit", err)
	}
	if _, err := w.Seal(nil, make([]byte, EnvelopeRecordADMax+1)); !errors.Is(err, ErrLimit) && !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal with too long an ad: %v", err)
	}
	// At the limits the exact-size calls are used; past them the general
	// ones, for their errors.
	adMax := make([]byte, EnvelopeRecordADMax)
	adMax[7] = 7
	limRec, err := w.Seal([]byte("at the ad limit"), adMax)
	if err != nil || len(limRec) != len("at the ad limit")+EnvelopeRecordOverhead {
		t.Fatalf("Seal with the largest ad: %d bytes, %v", len(limRec), err)
	}
	if pt, err := w.OpenRecord(limRec, adMax); err != nil || string(pt) != "at the ad limit" {
		t.Errorf("OpenRecord with the largest ad: %q, %v", pt, err)
	}
	if _, err := w.OpenRecord(limRec, adMax[1:]); !errors.Is(err, ErrAuth) {
		t.Errorf("OpenRecord with another ad: %v, want ErrAuth", err)
	}
	if _, err := w.OpenRecord(limRec, make([]byte, EnvelopeRecordADMax+1)); !errors.Is(err, ErrLimit) && !errors.Is(err, ErrInvalid) {
		t.Errorf("OpenRecord with too long an ad: %v", err)
	}
	if _, err := w.Seal(make([]byte, EnvelopeRecordMax+1), nil); !errors.Is(err, ErrLimit) {
		t.Errorf("Seal of a record past 16 MiB: %v, want ErrLimit", err)
	}
	if _, err := w.OpenRecord(limRec[:EnvelopeRecordOverhead-1], nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("OpenRecord of a short record: %v, want ErrInvalid", err)
	}

	// Ref and Close.
	ref, err := w.Ref()
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Close()
	if got, err := ref.OpenRecord(rec, nil); err != nil || string(got) != "secret" {
		t.Errorf("OpenRecord through a Ref after Close: %q, %v", got, err)
	}
	if _, err := w.Seal([]byte("x"), nil); !errors.Is(err, ErrState) {
		t.Errorf("Seal after Close: %v, want ErrState", err)
	}
	if w.Header() != nil || w.ID() != [EnvelopeSessionIDLen]byte{} {
		t.Error("Header or ID after Close")
	}
	ref.Close()
}

// A session seals and opens from many goroutines at once.
func TestEnvelopeSessionConcurrent(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, nil, nil)
	r := mustOpenSession(t, w.Header(), f.keys, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				pt := []byte(fmt.Sprintf("goroutine %d record %d", g, i))
				ad := []byte{byte(g), byte(i)}
				rec, err := w.Seal(pt, ad)
				if err != nil {
					errs <- err
					return
				}
				got, err := r.OpenRecord(rec, ad)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("record %d/%d: %q, %v", g, i, got, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// ------------------------------------------------------------ JSON fields

const fieldsDoc = `{"id":17,"name":"Ada Lovelace","email":"ada@example.org","age":36,"vip":true,` +
	`"notes":null,"score":9.5,"address":{"city":"London","zip":"W1"},"tags":["a","b"],"public":"visible"}`

var fieldsPointers = []string{"/name", "/email", "/age", "/vip", "/notes", "/score", "/address", "/tags"}

func jsonValue(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return m
}

func TestEnvelopeFieldsRandom(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, f.context, nil)
	enc, err := EncryptFields([]byte(fieldsDoc), w, fieldsPointers, &FieldsOptions{RecordID: []byte("17")})
	if err != nil {
		t.Fatalf("EncryptFields: %v", err)
	}
	m := jsonValue(t, enc)
	for _, p := range fieldsPointers {
		v, ok := m[p[1:]].(string)
		if !ok || !strings.HasPrefix(v, "aios:f1:") {
			t.Errorf("%s = %v, want an aios:f1: string", p, m[p[1:]])
		}
	}
	if m["public"] != "visible" || m["id"] != float64(17) {
		t.Errorf("untouched fields changed: %v", m)
	}
	if bytes.Contains(enc, []byte("Lovelace")) || bytes.Contains(enc, []byte("London")) {
		t.Error("the plaintext shows through")
	}
	// Key order is kept.
	if strings.Index(string(enc), `"id"`) > strings.Index(string(enc), `"public"`) {
		t.Error("key order changed")
	}
	// Random: the same document encrypts differently.
	enc2, err := EncryptFields([]byte(fieldsDoc), w, fieldsPointers, &FieldsOptions{RecordID: []byte("17")})
	if err != nil {
		t.Fatal(err)
	}
	if jsonValue(t, enc2)["name"] == m["name"] {
		t.Error("random mode gave equal strings")
	}
	// Encrypting again leaves encrypted fields as they are.
	again, err := EncryptFields(enc, w, fieldsPointers, &FieldsOptions{RecordID: []byte("17")})
	if err != nil || !reflect.DeepEqual(jsonValue(t, again), m) {
		t.Errorf("EncryptFields twice changed the document: %v", err)
	}

	// A reader opens the session header and decrypts, types and all.
	r := mustOpenSession(t, w.Header(), f.keys, nil)
	other := mustSession(t, []*Key{f.other}, nil, nil)
	dec, err := DecryptFields(enc, []*Session{other, r}, &FieldsOptions{RecordID: []byte("17")})
	if err != nil {
		t.Fatalf("DecryptFields: %v", err)
	}
	if !reflect.DeepEqual(jsonValue(t, dec), jsonValue(t, []byte(fieldsDoc))) {
		t.Errorf("DecryptFields:\n got %s\nwant %s", dec, fieldsDoc)
	}

	// Errors.
	_, err = DecryptFields(enc, []*Session{r}, &FieldsOptions{RecordID: []byte("18")})
	wantStatus(t, "DecryptFields with another record id", err, StatusAuth)
	_, err = DecryptFields(enc, []*Session{other}, &FieldsOptions{RecordID: []byte("17")})
	wantStatus(t, "DecryptFields without its session", err, StatusEnvelopeUnknownSession)
	moved := strings.Replace(string(enc), `"email":`, `"email2":`, 1)
	_, err = DecryptFields([]byte(moved), []*Session{r}, &FieldsOptions{RecordID: []byte("17")})
	wantStatus(t, "DecryptFields of a field moved to another pointer", err, StatusAuth)
	_, err = EncryptFields([]byte(fieldsDoc), w, []string{"/nope"}, nil)
	wantStatus(t, "EncryptFields of a missing pointer", err, StatusNotFound)
	if _, err := EncryptFields([]byte(fieldsDoc), w, []string{"/nope", "/name"}, &FieldsOptions{SkipMissing: true}); err != nil {
		t.Errorf("EncryptFields with SkipMissing: %v", err)
	}
	if _, err := EncryptFields([]byte(`{"a":`), w, []string{"/a"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EncryptFields of broken JSON: %v, want ErrInvalid", err)
	}
	if _, err := EncryptFields([]byte(fieldsDoc), w, []string{"/na\x00me"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EncryptFields with a NUL in a pointer: %v, want ErrInvalid", err)
	}
	if _, err := EncryptFields([]byte(fieldsDoc), nil, fieldsPointers, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EncryptFields with a nil session: %v", err)
	}
	// Deterministic fields need a session made for them.
	_, err = EncryptFields([]byte(fieldsDoc), w, []string{"/email"}, &FieldsOptions{Deterministic: true})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("deterministic fields under a random-only session: %v, want ErrInvalid", err)
	}
}

func TestEnvelopeFieldsDeterministic(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, nil, &SessionOptions{Deterministic: true})
	if info, err := w.Info(); err != nil || !info.Deterministic {
		t.Fatalf("session info %+v, %v", info, err)
	}
	doc1 := []byte(`{"email":"ada@example.org","backup":"ada@example.org","n":5,"t":true}`)
	doc2 := []byte(`{"email":"ada@example.org","backup":"bob@example.org","n":5,"t":true}`)
	ptrs := []string{"/email", "/backup", "/n", "/t"}
	det := &FieldsOptions{Deterministic: true}
	e1, err := EncryptFields(doc1, w, ptrs, det)
	if err != nil {
		t.Fatalf("EncryptFields(deterministic): %v", err)
	}
	e2, err := EncryptFields(doc2, w, ptrs, det)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := jsonValue(t, e1), jsonValue(t, e2)
	if m1["email"] != m2["email"] || m1["n"] != m2["n"] || m1["t"] != m2["t"] {
		t.Error("the same value at the same pointer gave different strings")
	}
	if m1["email"] == m1["backup"] {
		t.Error("the same value at two pointers gave the same string")
	}
	if m1["backup"] == m2["backup"] {
		t.Error("different values gave the same string")
	}
	for _, p := range ptrs {
		if s, _ := m1[p[1:]].(string); !strings.HasPrefix(s, "aios:f1:") {
			t.Errorf("%s = %v", p, m1[p[1:]])
		}
	}
	// A record id changes the string.
	e3, err := EncryptFields(doc1, w, ptrs, &FieldsOptions{Deterministic: true, RecordID: []byte("row-1")})
	if err != nil {
		t.Fatal(err)
	}
	if jsonValue(t, e3)["email"] == m1["email"] {
		t.Error("a record id did not change the deterministic string")
	}

	r := mustOpenSession(t, w.Header(), f.keys, nil)
	for _, c := range []struct {
		enc, want []byte
		rid       []byte
	}{{e1, doc1, nil}, {e2, doc2, nil}, {e3, doc1, []byte("row-1")}} {
		dec, err := DecryptFields(c.enc, []*Session{r}, &FieldsOptions{RecordID: c.rid})
		if err != nil {
			t.Fatalf("DecryptFields: %v", err)
		}
		if !reflect.DeepEqual(jsonValue(t, dec), jsonValue(t, c.want)) {
			t.Errorf("DecryptFields:\n got %s\nwant %s", dec, c.want)
		}
	}
	_, err = DecryptFields(e3, []*Session{r}, nil)
	wantStatus(t, "deterministic field without its record id", err, StatusAuth)
	// Objects cannot be deterministic.
	if _, err := EncryptFields([]byte(`{"o":{"a":1}}`), w, []string{"/o"}, det); !errors.Is(err, ErrInvalid) {
		t.Errorf("deterministic object: %v, want ErrInvalid", err)
	}
}

func ExampleEncryptFields() {
	dir, _ := os.MkdirTemp("", "aios-example")
	defer os.RemoveAll(dir)
	kr, _ := CreateKeyring(filepath.Join(dir, "keys"), KeyringOptions{MasterKey: bytes.Repeat([]byte{1}, 32)})
	defer kr.Close()
	kek, _ := kr.Add("kek", KeyAES256, KeySpec{})
	defer kek.Close()

	// The writer: one session (one wrap) for many documents.
	w, _ := NewSession([]*Key{kek}, map[string]string{"table": "patients"}, nil)
	defer w.Close()
	doc := []byte(`{"id":7,"name":"Ada","age":36}`)
	enc, _ := EncryptFields(doc, w, []string{"/name", "/age"}, &FieldsOptions{RecordID: []byte("7")})
	var m map[string]any
	json.Unmarshal(enc, &m)
	fmt.Println(m["id"], strings.HasPrefix(m["name"].(string), "aios:f1:"))

	// The reader: opens the stored session header once.
	keys, _ := NewEnvelopeKeys([]*Key{kek}, nil)
	defer keys.Close()
	r, err := OpenSession(w.Header(), keys, &OpenOptions{ExpectedContext: map[string]string{"table": "patients"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	dec, _ := DecryptFields(enc, []*Session{r}, &FieldsOptions{RecordID: []byte("7")})
	fmt.Println(string(dec))
	// Output:
	// 7 true
	// {"id":7,"name":"Ada","age":36}
}
