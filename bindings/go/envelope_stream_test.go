package aios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func writeTemp(t *testing.T, name string, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func createTemp(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAllFile(t *testing.T, f *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SealFile and OpenFile over files and a pipe, interoperating with the
// one-shot and streaming shapes.
func TestEnvelopeFiles(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(200000 + 3)
	src := writeTemp(t, "plain", pt)
	sealed := createTemp(t, "sealed")
	if err := SealFile(sealed, src, []*Key{f.kek, f.xpub}, f.context, &SealOptions{ChunkSize: 8192, Threads: 2}); err != nil {
		t.Fatalf("SealFile: %v", err)
	}
	msg := readAllFile(t, sealed)
	mustOpen(t, msg, f.keys, &OpenOptions{ExpectedContext: f.context}, pt)
	if info, err := Peek(msg); err != nil || info.ChunkSize != 8192 || len(info.Recipients) != 2 {
		t.Fatalf("Peek: %+v, %v", info, err)
	}

	in := writeTemp(t, "msg", msg)
	out := createTemp(t, "opened")
	if err := OpenFile(out, in, mustEnvelopeKeys(t, []*Key{f.xpriv}, nil), nil); err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	if got := readAllFile(t, out); !bytes.Equal(got, pt) {
		t.Fatalf("OpenFile wrote %d bytes that differ", len(got))
	}

	// Over a pipe: the writer seals into it while OpenFile reads.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	done := make(chan error, 1)
	go func() {
		_, err := pw.Write(msg)
		pw.Close()
		done <- err
	}()
	out2 := createTemp(t, "opened2")
	if err := OpenFile(out2, pr, f.keys, &OpenOptions{ExpectedContext: f.context}); err != nil {
		t.Fatalf("OpenFile(pipe): %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := readAllFile(t, out2); !bytes.Equal(got, pt) {
		t.Fatal("OpenFile(pipe) differs")
	}

	// Failures.
	bad := bytes.Clone(msg)
	bad[len(bad)-20] ^= 1
	err = OpenFile(createTemp(t, "x"), writeTemp(t, "bad", bad), f.keys, nil)
	wantStatus(t, "OpenFile of a changed message", err, StatusAuth)
	hl, _ := HeaderLen(msg)
	err = OpenFile(createTemp(t, "y"), writeTemp(t, "cut", msg[:hl+2*(8192+16)]), f.keys, nil)
	wantStatus(t, "OpenFile of a cut message", err, StatusEnvelopeTruncated)
	err = OpenFile(createTemp(t, "z"), writeTemp(t, "m", msg), mustEnvelopeKeys(t, []*Key{f.other}, nil), nil)
	wantStatus(t, "OpenFile with another key", err, StatusEnvelopeNoRecipient)
	// A read-only destination: the library names the failing call.
	ro, err := os.Open(src.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = SealFile(ro, writeTemp(t, "p", pt), []*Key{f.kek}, nil, nil)
	wantStatus(t, "SealFile to a read-only file", err, StatusIO)
	closed := createTemp(t, "closed")
	closed.Close()
	if err := SealFile(closed, src, []*Key{f.kek}, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SealFile to a closed file: %v, want ErrInvalid", err)
	}
	if err := SealFile(nil, src, []*Key{f.kek}, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SealFile to nil: %v, want ErrInvalid", err)
	}
}

// ------------------------------------------------------------ reader

func checkReaderAt(t *testing.T, r *EnvelopeReader, pt []byte, seed uint64) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 7))
	size := int64(len(pt))
	for i := 0; i < 300; i++ {
		off := rng.Int64N(size + 10)
		n := rng.IntN(3*int(r.ChunkSize()) + 2)
		buf := make([]byte, n)
		got, err := r.ReadAt(buf, off)
		wantN := int64(n)
		if off >= size {
			wantN = 0
		} else if off+wantN > size {
			wantN = size - off
		}
		if int64(got) != wantN {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, want %d (%v)", n, off, got, wantN, err)
		}
		if wantN < int64(n) && err != io.EOF {
			t.Fatalf("short ReadAt(%d bytes at %d) = %d, %v; want io.EOF", n, off, got, err)
		}
		if wantN == int64(n) && err != nil && !(err == io.EOF && off+wantN == size) {
			t.Fatalf("ReadAt(%d bytes at %d): %v", n, off, err)
		}
		if got > 0 && !bytes.Equal(buf[:got], pt[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes at %d): content differs", n, off)
		}
	}
}

func TestEnvelopeReader(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(10*4096 + 123)
	msg := mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})

	mem, err := NewEnvelopeReader(msg, f.keys, &OpenOptions{ExpectedContext: f.context})
	if err != nil {
		t.Fatalf("NewEnvelopeReader: %v", err)
	}
	defer mem.Close()
	// The reader keeps its own copy of the message.
	clear(msg[len(msg)/2:])
	msg = mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})

	file, err := NewEnvelopeFileReader(writeTemp(t, "m", msg), f.keys, nil)
	if err != nil {
		t.Fatalf("NewEnvelopeFileReader: %v", err)
	}
	defer file.Close()

	for name, r := range map[string]*EnvelopeReader{"mem": mem, "file": file} {
		t.Run(name, func(t *testing.T) {
			if r.Size() != int64(len(pt)) || r.ChunkSize() != 4096 {
				t.Fatalf("Size %d, ChunkSize %d", r.Size(), r.ChunkSize())
			}
			info, err := r.Info()
			if err != nil || !info.Authenticated || info.OpenedBy != 0 || info.Context["tenant"] != "acme" {
				t.Fatalf("Info: %+v, %v", info, err)
			}
			checkReaderAt(t, r, pt, 1)
			whole, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
			if err != nil || !bytes.Equal(whole, pt) {
				t.Fatalf("SectionReader: %d bytes, %v", len(whole), err)
			}
			if n, err := r.ReadAt(make([]byte, 5), r.Size()); n != 0 || err != io.EOF {
				t.Errorf("ReadAt at the end = %d, %v", n, err)
			}
			if _, err := r.ReadAt(make([]byte, 5), -1); !errors.Is(err, ErrInvalid) {
				t.Errorf("ReadAt(-1): %v", err)
			}
			// Many goroutines at once.
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(seed uint64) {
					defer wg.Done()
					checkReaderAt(t, r, pt, seed)
				}(uint64(g + 10))
			}
			wg.Wait()
		})
	}

	// The whole message from the file reader once it is closed: ErrState.
	file.Close()
	if _, err := file.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrState) {
		t.Errorf("ReadAt after Close: %v", err)
	}
	if _, err := file.Info(); !errors.Is(err, ErrState) {
		t.Errorf("Info after Close: %v", err)
	}
}

func TestEnvelopeReaderErrors(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(6*4096 + 10)
	msg := mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})
	hl, _ := HeaderLen(msg)

	// Creation verifies the header and the final chunk.
	_, err := NewEnvelopeReader(msg[:hl+3*4112], f.keys, nil)
	wantStatus(t, "reader over a truncated message", err, StatusEnvelopeTruncated)
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	_, err = NewEnvelopeReader(bad, f.keys, nil)
	wantStatus(t, "reader with a bad final chunk", err, StatusAuth)
	_, err = NewEnvelopeReader(msg, mustEnvelopeKeys(t, []*Key{f.other}, nil), nil)
	wantStatus(t, "reader with another key", err, StatusEnvelopeNoRecipient)
	_, err = NewEnvelopeReader(msg, f.keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "x"}})
	wantStatus(t, "reader with a wrong context", err, StatusEnvelopeContextMismatch)

	// A changed middle chunk fails only the reads that touch it.
	bad = bytes.Clone(msg)
	bad[hl+2*4112+100] ^= 1
	r, err := NewEnvelopeFileReader(writeTemp(t, "bad", bad), f.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 4096)
	if n, err := r.ReadAt(buf, 0); err != nil || n != 4096 || !bytes.Equal(buf, pt[:4096]) {
		t.Errorf("ReadAt(chunk 0) = %d, %v", n, err)
	}
	buf = bytes.Repeat([]byte{0xAA}, 100)
	n, err := r.ReadAt(buf, 2*4096+50)
	wantStatus(t, "ReadAt in the changed chunk", err, StatusAuth)
	if n != 0 || !bytes.Equal(buf, make([]byte, 100)) {
		t.Errorf("failed ReadAt returned %d and left % x...", n, buf[:8])
	}
	if n, err := r.ReadAt(buf, 4*4096); err != nil || n != 100 || !bytes.Equal(buf, pt[4*4096:4*4096+100]) {
		t.Errorf("ReadAt(chunk 4) = %d, %v", n, err)
	}
}

// ------------------------------------------------------------ rewrap

func TestEnvelopeRewrap(t *testing.T) {
	f := newEnvFixture(t)
	pt := randBytes(3*4096 + 5)
	msg := mustSeal(t, pt, []*Key{f.kek}, f.context, &SealOptions{ChunkSize: 4096})
	oldHL, _ := HeaderLen(msg)
	oldInfo, _ := Peek(msg)

	v2, err := f.kr.Rotate("kek")
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.Version() != 2 {
		t.Fatalf("rotated to version %d", v2.Version())
	}

	// Rewrap to version 2: the v1 record is replaced.
	re, err := Rewrap(msg, f.keys, []*Key{v2}, nil)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	hl, _ := HeaderLen(re)
	if !bytes.Equal(re[hl:], msg[oldHL:]) {
		t.Fatal("Rewrap changed the payload")
	}
	info, err := Peek(re)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Recipients) != 1 || info.Recipients[0].KeyID != "kek" || info.Recipients[0].Version != 2 {
		t.Fatalf("rewrapped recipients %+v", info.Recipients)
	}
	if !bytes.Equal(info.SessionID, oldInfo.SessionID) || !bytes.Equal(info.MessageID, oldInfo.MessageID) {
		t.Error("Rewrap changed the commitment or the message id")
	}
	onlyV2 := mustEnvelopeKeys(t, []*Key{v2}, nil)
	mustOpen(t, re, onlyV2, &OpenOptions{ExpectedContext: f.context}, pt)
	// The v1 key alone no longer opens it; v2 alone does not open the old one.
	_, err = Open(re, f.keys, nil)
	wantStatus(t, "Open(rewrapped) with v1 only", err, StatusEnvelopeNoRecipient)
	_, err = Open(msg, onlyV2, nil)
	wantStatus(t, "Open(original) with v2 only", err, StatusEnvelopeNoRecipient)

	// RewrapHeader returns the header and the old header's length.
	hdr, old, err := RewrapHeader(msg[:oldHL+10], f.keys, []*Key{v2}, nil)
	if err != nil || old != oldHL || len(hdr) != hl {
		t.Fatalf("RewrapHeader = %d bytes (want %d), old %d (want %d), %v", len(hdr), hl, old, oldHL, err)
	}
	mustOpen(t, append(hdr, msg[oldHL:]...), onlyV2, nil, pt)

	// Adding an X25519 recipient and removing the KEK.
	re2, err := Rewrap(re, onlyV2, []*Key{f.xpub}, &RewrapOptions{Remove: []*Key{v2}})
	if err != nil {
		t.Fatalf("Rewrap(add x25519, remove kek): %v", err)
	}
	if info, _ := Peek(re2); len(info.Recipients) != 1 || info.Recipients[0].Kind != "x25519" {
		t.Fatalf("recipients %+v", info.Recipients)
	}
	mustOpen(t, re2, mustEnvelopeKeys(t, []*Key{f.xpriv}, nil), nil, pt)
	_, err = Open(re2, onlyV2, nil)
	wantStatus(t, "Open after removing the KEK", err, StatusEnvelopeNoRecipient)

	// ReplaceAll.
	re3, err := Rewrap(re, onlyV2, []*Key{f.other}, &RewrapOptions{ReplaceAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := Peek(re3); len(info.Recipients) != 1 || info.Recipients[0].KeyID != "other-kek" {
		t.Fatalf("recipients after ReplaceAll %+v", info.Recipients)
	}
	// Nothing left: ErrInvalid. Keys that cannot open the header: no rewrap.
	if _, err := Rewrap(re, onlyV2, nil, &RewrapOptions{ReplaceAll: true}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Rewrap to nobody: %v, want ErrInvalid", err)
	}
	_, err = Rewrap(re, f.keys, []*Key{f.other}, nil)
	wantStatus(t, "Rewrap without a key that opens", err, StatusEnvelopeNoRecipient)
	bad := bytes.Clone(re)
	bad[hl-1] ^= 1
	_, err = Rewrap(bad, onlyV2, []*Key{f.other}, nil)
	wantStatus(t, "Rewrap of a changed header", err, StatusAuth)

	// RewrapFile gives the same kind of result.
	out := createTemp(t, "re")
	if err := RewrapFile(out, writeTemp(t, "m", msg), f.keys, []*Key{v2}, nil); err != nil {
		t.Fatalf("RewrapFile: %v", err)
	}
	got := readAllFile(t, out)
	if !bytes.Equal(got[len(got)-len(msg)+oldHL:], msg[oldHL:]) {
		t.Error("RewrapFile changed the payload")
	}
	mustOpen(t, got, onlyV2, nil, pt)
	err = RewrapFile(createTemp(t, "re2"), writeTemp(t, "m2", msg), onlyV2, []*Key{v2}, nil)
	wantStatus(t, "RewrapFile without a key that opens", err, StatusEnvelopeNoRecipient)
}

func ExampleNewEnvelopeReader() {
	dir, _ := os.MkdirTemp("", "aios-example")
	defer os.RemoveAll(dir)
	kr, _ := CreateKeyring(filepath.Join(dir, "keys"), KeyringOptions{MasterKey: bytes.Repeat([]byte{1}, 32)})
	defer kr.Close()
	kek, _ := kr.Add("kek", KeyAES256, KeySpec{})
	defer kek.Close()

	msg, _ := Seal(bytes.Repeat([]byte("0123456789"), 10000), []*Key{kek}, map[string]string{"tenant": "acme"}, nil)
	keys, _ := NewEnvelopeKeys([]*Key{kek}, nil)
	defer keys.Close()
	r, err := NewEnvelopeReader(msg, keys, &OpenOptions{ExpectedContext: map[string]string{"tenant": "acme"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	buf := make([]byte, 5)
	r.ReadAt(buf, 50003)
	fmt.Println(r.Size(), string(buf))
	// Output: 100000 34567
}
