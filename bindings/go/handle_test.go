package aios

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Close never blocks on calls in flight and never deadlocks: calls already
// running finish on the object, the last of them frees it (once), and
// calls after Close get ErrState. The handle alone first (a fake object,
// so the frees can be counted), then Manifest, Buffer and Key through the
// library, under -race.

// fakeHandle is a handle over a Go int, with a free that counts.
type fakeHandle struct {
	h     handle[*int]
	frees atomic.Int32
}

func newFakeHandle() *fakeHandle {
	f := &fakeHandle{}
	f.h.ptr = new(int)
	return f
}

func (f *fakeHandle) free(p *int) {
	if p == nil {
		panic("free(nil)")
	}
	f.frees.Add(1)
}

func wantClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, StatusState) {
		t.Fatalf("%s: got %v, want StatusState", what, err)
	}
}

func TestHandleCloseWhileInUse(t *testing.T) {
	// No user: Close frees at once, and only once.
	f := newFakeHandle()
	f.h.close(f.free)
	f.h.close(f.free)
	if n := f.frees.Load(); n != 1 {
		t.Fatalf("%d frees after Close, want 1", n)
	}
	_, err := f.h.read("Fake")
	wantClosed(t, "read after Close", err)
	_, err = f.h.write("Fake")
	wantClosed(t, "write after Close", err)

	// Close inside a read (as from a callback): no deadlock, the object
	// stays valid until the (outermost) reader is done.
	f = newFakeHandle()
	p, err := f.h.read("Fake")
	if err != nil {
		t.Fatal(err)
	}
	q, err := f.h.read("Fake") // a nested read, as a callback's getter
	if err != nil || q != p {
		t.Fatal(err)
	}
	f.h.close(f.free)
	_, err = f.h.read("Fake")
	wantClosed(t, "read after Close, inside a read", err)
	f.h.runlock()
	if n := f.frees.Load(); n != 0 {
		t.Fatalf("freed with a reader left: %d", n)
	}
	*p = 1 // still ours (the race detector would see a free)
	f.h.runlock()
	if n := f.frees.Load(); n != 1 {
		t.Fatalf("%d frees after the last reader, want 1", n)
	}

	// Close inside a write; and a writer that waited for the lock while
	// Close came gets ErrState, not the object.
	f = newFakeHandle()
	if _, err := f.h.write("Fake"); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error)
	go func() {
		_, err := f.h.write("Fake")
		if err == nil {
			f.h.unlock()
		}
		waiting <- err
	}()
	for !func() bool { f.h.state.Lock(); defer f.h.state.Unlock(); return f.h.users == 2 }() {
		time.Sleep(time.Millisecond)
	}
	f.h.close(f.free)
	f.h.unlock()
	wantClosed(t, "write that waited through Close", <-waiting)
	if n := f.frees.Load(); n != 1 {
		t.Fatalf("%d frees, want 1", n)
	}

	// A borrowed object: Close with a free that does nothing.
	f = newFakeHandle()
	f.h.close(func(*int) {})
	_, err = f.h.read("Fake")
	wantClosed(t, "borrowed, after Close", err)
}

// Many readers and writers race one Close: every call either works on a
// live object or gets ErrState, and the object is freed exactly once,
// after the last call.
func TestHandleCloseStress(t *testing.T) {
	for round := 0; round < 200; round++ {
		f := newFakeHandle()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := 0; i < 50; i++ {
					var p *int
					var err error
					if g%4 == 0 {
						p, err = f.h.write("Fake")
					} else {
						p, err = f.h.read("Fake")
					}
					if err != nil {
						if !errors.Is(err, StatusState) {
							t.Errorf("got %v", err)
						}
						return
					}
					if f.frees.Load() != 0 {
						t.Error("a call saw a freed object")
					}
					if g%4 == 0 {
						*p++
						f.h.unlock()
					} else {
						_ = *p
						f.h.runlock()
					}
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		f.h.close(f.free)
		wg.Wait()
		if n := f.frees.Load(); n != 1 {
			t.Fatalf("round %d: %d frees, want 1", round, n)
		}
	}
}

// Close from inside a VerifyDir progress callback: no deadlock, VerifyDir
// completes on the manifest it started with, later calls get ErrState.
func TestManifestCloseInProgressCallback(t *testing.T) {
	f := newMfFixture(t)
	m, _ := f.signVerify(t, nil, f.p256, f.pub256)
	want := m.SubjectName()
	var once sync.Once
	var during string
	done := make(chan error, 1)
	go func() {
		d, err := m.VerifyDir(f.model, &ManifestVerifyOptions{Hash: ManifestHashOptions{Threads: 2, ReadSize: 64 << 10,
			Progress: func(_, _ uint64, _ string) bool {
				once.Do(func() { m.Close() })
				during = m.SubjectName() // "" once closed, never a hang
				return true
			}}})
		if err == nil && d.Len() != 0 {
			err = errors.New("VerifyDir found changes")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("VerifyDir after Close in its callback: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: VerifyDir did not return after Close in its progress callback")
	}
	if want == "" || during != "" {
		t.Errorf("SubjectName before %q, in the callback after Close %q", want, during)
	}
	if m.SubjectName() != "" || m.Verified() {
		t.Error("getters after Close return values")
	}
	_, err := m.VerifyDir(f.model, nil)
	wantClosed(t, "VerifyDir after Close", err)
	_, err = m.JSON()
	wantClosed(t, "JSON after Close", err)
	m.Close()
}

// A callback reads the manifest while another goroutine's Close is
// pending: it gets the value or "" (ErrState), and never hangs.
func TestManifestCallbackReadsWhileClosePending(t *testing.T) {
	f := newMfFixture(t)
	mfWrite(t, f.model, "big.bin", make([]byte, 16<<20))
	m, _ := f.signVerify(t, nil, f.p256, f.pub256)
	want := m.SubjectName()
	started := make(chan struct{})
	closed := make(chan struct{})
	var once sync.Once
	var bad []string
	done := make(chan error, 1)
	go func() {
		_, err := m.VerifyDir(f.model, &ManifestVerifyOptions{Hash: ManifestHashOptions{Threads: 1, ReadSize: 64 << 10,
			Progress: func(_, _ uint64, _ string) bool {
				once.Do(func() {
					close(started)
					<-closed // Close has returned in the other goroutine
				})
				if got := m.SubjectName(); got != want && got != "" {
					bad = append(bad, got)
				}
				if _, err := m.JSON(); err != nil && !errors.Is(err, StatusState) {
					bad = append(bad, err.Error())
				}
				return true
			}}})
		done <- err
	}()
	<-started
	closeDone := make(chan struct{})
	go func() {
		m.Close() // e.g. a shutdown
		close(closeDone)
	}()
	select {
	case <-closeDone:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a VerifyDir in flight")
	}
	close(closed)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("VerifyDir: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: the progress callback blocked behind Close")
	}
	if len(bad) > 0 {
		t.Errorf("the callback read %q", bad)
	}
	_, err := m.Signer()
	wantClosed(t, "Signer after Close", err)
}

// Library handles: goroutines read a Manifest, a Buffer and a Key while
// another closes them (run with -race).
func TestHandleCloseStressLibrary(t *testing.T) {
	f := newMfFixture(t)
	for round := 0; round < 20; round++ {
		m, _ := f.signVerify(t, nil, f.p256, f.pub256)
		b, err := BufferFromBytes([]byte("a secret of sorts"), true)
		if err != nil {
			t.Fatal(err)
		}
		k, err := f.pub256.Ref()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		ok := func(err error) {
			if err != nil && !errors.Is(err, StatusState) {
				t.Errorf("got %v, want nil or StatusState", err)
			}
		}
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := 0; i < 20; i++ {
					switch g % 3 {
					case 0:
						_ = m.SubjectName()
						_, err := m.JSON()
						ok(err)
						_ = m.Resources()
					case 1:
						ok(b.View(func(d []byte) error {
							if string(d) != "a secret of sorts" {
								return errors.New("View saw other bytes")
							}
							return nil
						}))
						ok(b.Mutate(func(d []byte) error { d[0] = 'a'; return nil }))
					case 2:
						_, err := k.PublicPEM()
						ok(err)
						_ = k.ID()
					}
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Duration(round%4) * 200 * time.Microsecond)
		m.Close()
		b.Close()
		k.Close()
		wg.Wait()
		_, err = m.JSON()
		wantClosed(t, "Manifest after Close", err)
		wantClosed(t, "Buffer after Close", b.View(func([]byte) error { return nil }))
		_, err = k.PublicPEM()
		wantClosed(t, "Key after Close", err)
	}
}
