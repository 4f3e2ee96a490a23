package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// heapPeak samples the heap in use until stopped and returns its peak above what it
// was at the start. The samples are for a bound, not a timing: a missed peak only
// makes the test kinder.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// A 200 MB attachment goes in and comes back out without the vault holding more than
// a few chunks: memory does not grow with what is backed up.
func TestMemoryStaysBoundedForA200MBBlob(t *testing.T) {
	const size = 200 << 20
	const bound = 48 << 20
	ctx := context.Background()
	v := newVault(mustFileTarget(t), clock.NewFake(t0), mustIdentity(t))
	db := bytesEntry([]byte("SQLite format 3\x00 tiny"))
	big := randomEntry(42, size)

	stop := heapPeak()
	start := time.Now()
	res, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, db, []entry{big}, nil))
	if err != nil {
		t.Fatal(err)
	}
	wrote := time.Since(start)
	writePeak := stop()

	stop = heapPeak()
	start = time.Now()
	pr, pw := io.Pipe()
	type result struct {
		sha string
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		sr, err := snapshot.NewReader(pr)
		if err != nil {
			pr.CloseWithError(err)
			got <- result{err: err}
			return
		}
		var r result
		for {
			e, body, err := sr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.err = err
				break
			}
			h := sha256.New()
			n, err := io.Copy(h, body)
			if err != nil {
				r.err = err
				break
			}
			if e.Kind == snapshot.KindBlob {
				r.sha, r.n = hex.EncodeToString(h.Sum(nil)), n
			}
		}
		pr.CloseWithError(r.err)
		got <- r
	}()
	_, err = v.Read(ctx, "inst-1", "b1", pw)
	pw.CloseWithError(err)
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	read := time.Since(start)
	readPeak := stop()
	if r.err != nil || r.sha != big.sha || r.n != size {
		t.Fatalf("restored blob: %d bytes, sha %s, %v; want %d bytes, sha %s", r.n, r.sha, r.err, int64(size), big.sha)
	}
	t.Logf("200 MiB blob: stored %d bytes in %d objects; write %.0f MB/s, read (check pass + stream) %.0f MB/s; heap peak above start: write %d MiB, read %d MiB",
		res.SizeBytes, res.Objects, float64(size)/wrote.Seconds()/1e6, float64(size)/read.Seconds()/1e6, writePeak>>20, readPeak>>20)
	if writePeak > bound || readPeak > bound {
		t.Errorf("heap grew by %d MiB (write) and %d MiB (read); want under %d MiB", writePeak>>20, readPeak>>20, bound>>20)
	}
}
