package aios

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestEnvelopeSessionBatch(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, f.context, nil)
	r := mustOpenSession(t, w.Header(), f.keys, nil)
	pts := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("x"), 1000), nil, make([]byte, 70000)}
	ads := [][]byte{nil, []byte("ad1"), bytes.Repeat([]byte("y"), 5000), []byte("z"), {}}

	recs, err := w.SealBatch(pts, ads)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(pts) {
		t.Fatalf("%d records for %d plaintexts", len(recs), len(pts))
	}
	singles := make([][]byte, len(pts))
	for i := range pts {
		if len(recs[i]) != len(pts[i])+EnvelopeRecordOverhead {
			t.Fatalf("record %d: %d bytes", i, len(recs[i]))
		}
		// Each record is an ordinary record.
		got, err := r.OpenRecord(recs[i], ads[i])
		if err != nil || !bytes.Equal(got, pts[i]) {
			t.Fatalf("OpenRecord(record %d) = %d bytes, %v", i, len(got), err)
		}
		if singles[i], err = w.Seal(pts[i], ads[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Appending to one record must not overwrite the next.
	_ = append(recs[0], 0xff)
	if got, err := r.OpenRecord(recs[1], ads[1]); err != nil || string(got) != "a" {
		t.Fatalf("record 1 after an append to record 0: %q, %v", got, err)
	}
	for _, in := range [][][]byte{recs, singles} {
		got, err := r.OpenBatch(in, ads)
		if err != nil {
			t.Fatal(err)
		}
		for i := range pts {
			if !bytes.Equal(got[i], pts[i]) {
				t.Fatalf("OpenBatch: record %d differs", i)
			}
		}
	}
	// No associated data.
	recs, err = w.SealBatch(pts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.OpenBatch(recs, nil); err != nil || !bytes.Equal(got[2], pts[2]) {
		t.Fatalf("OpenBatch without ad: %v", err)
	}
	var be *BatchError
	if _, err := r.OpenBatch(recs, ads); !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrAuth) {
		t.Fatalf("OpenBatch with the wrong ad: %v", err)
	}
	// Empty batches.
	if got, err := w.SealBatch(nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("SealBatch(nil) = %v, %v", got, err)
	}
	if got, err := r.OpenBatch(nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("OpenBatch(nil) = %v, %v", got, err)
	}
	if _, err := w.SealBatch(pts, ads[:2]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SealBatch with 2 ads for 5 records: %v", err)
	}
}

func TestEnvelopeSessionBatchErrors(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, nil, &SessionOptions{MaxRecords: 5})
	pts := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	recs, err := w.SealBatch(pts, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A flipped bit in record k: StatusAuth, index k.
	for k := range recs {
		bad := make([][]byte, len(recs))
		for i := range recs {
			bad[i] = bytes.Clone(recs[i])
		}
		bad[k][len(bad[k])-1] ^= 1
		_, err := w.OpenBatch(bad, nil)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != k || !errors.Is(err, StatusAuth) ||
			!strings.Contains(err.Error(), "record "+strconv.Itoa(k)) {
			t.Fatalf("flipped bit in record %d: %v", k, err)
		}
	}
	// A record of another session.
	other := mustSession(t, []*Key{f.kek}, nil, nil)
	orec, err := other.Seal([]byte("elsewhere"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var be *BatchError
	if _, err := w.OpenBatch([][]byte{recs[0], orec}, nil); !errors.As(err, &be) || be.Index != 1 ||
		!errors.Is(err, StatusEnvelopeUnknownSession) {
		t.Fatalf("another session's record: %v", err)
	}
	if _, err := w.OpenBatch([][]byte{recs[0], recs[1][:10]}, nil); !errors.As(err, &be) || be.Index != 1 ||
		!errors.Is(err, ErrInvalid) {
		t.Fatalf("a short record: %v", err)
	}
	// 2 of 5 left: a batch of 3 is refused whole and counts nothing.
	if _, err := w.SealBatch(pts, nil); !errors.Is(err, ErrLimit) || errors.As(err, &be) {
		t.Fatalf("SealBatch past MaxRecords: %v", err)
	}
	if _, err := w.SealBatch(pts[:2], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Seal(nil, nil); !errors.Is(err, ErrLimit) {
		t.Fatalf("Seal past MaxRecords: %v", err)
	}
	big := mustSession(t, []*Key{f.kek}, nil, nil)
	if _, err := big.SealBatch([][]byte{nil, nil}, [][]byte{nil, make([]byte, EnvelopeRecordADMax+1)}); !errors.As(err, &be) ||
		be.Index != 1 || !errors.Is(err, ErrLimit) {
		t.Fatalf("an ad over the limit: %v", err)
	}
	reader := mustOpenSession(t, w.Header(), f.keys, nil)
	if _, err := reader.SealBatch(pts, nil); !errors.Is(err, ErrState) {
		t.Fatalf("a reader's SealBatch: %v", err)
	}
	var nilSession *Session
	if _, err := nilSession.SealBatch(pts, nil); err == nil {
		t.Fatal("SealBatch on a nil session")
	}
	w.Close()
	if _, err := w.OpenBatch(recs, nil); err == nil {
		t.Fatal("OpenBatch on a closed session")
	}
}

func TestEnvelopeSessionBatchConcurrent(t *testing.T) {
	f := newEnvFixture(t)
	w := mustSession(t, []*Key{f.kek}, nil, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			pts := make([][]byte, 50)
			for i := range pts {
				pts[i] = []byte("goroutine " + strconv.Itoa(g) + " record " + strconv.Itoa(i))
			}
			for round := 0; round < 20; round++ {
				recs, err := w.SealBatch(pts, pts)
				if err == nil {
					var got [][]byte
					if got, err = w.OpenBatch(recs, pts); err == nil && !bytes.Equal(got[49], pts[49]) {
						err = errors.New("plaintext differs")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
