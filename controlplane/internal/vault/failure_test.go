package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault/s3test"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// flakyTarget fails every Put after the first ok ones.
type flakyTarget struct {
	Target
	ok      atomic.Int64
	calls   atomic.Int64
	failing string // a Put of a key containing it fails too
}

var errInjected = errors.New("injected: disk full")

func (f *flakyTarget) Put(ctx context.Context, key string, body []byte) error {
	if f.calls.Add(1) > f.ok.Load() || (f.failing != "" && strings.Contains(key, f.failing)) {
		return errInjected
	}
	return f.Target.Put(ctx, key, body)
}

func TestFailedWriteLeavesNoManifest(t *testing.T) {
	ctx := context.Background()
	in := mustTestInstance(t)
	cp := mustIdentity(t)
	// The lock, the key, some chunks — and the manifest itself, whenever it comes.
	for _, c := range []struct {
		ok      int64
		failing string
	}{{0, ""}, {1, ""}, {2, ""}, {5, ""}, {1 << 30, "/manifests/"}} {
		ok := c.ok
		base := mustFileTarget(t)
		tg := &flakyTarget{Target: base, failing: c.failing}
		tg.ok.Store(ok)
		v := newVault(tg, clock.NewFake(t0), cp)
		if _, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); !errors.Is(err, errInjected) {
			t.Fatalf("Write failing after %d puts = %v, want the injected error", ok, err)
		}
		if found, err := v.Scan(ctx); err != nil || len(found) != 0 {
			t.Fatalf("after a Write failing after %d puts: Scan = %v, %v; want no backup", ok, found, err)
		}
		if objs, _ := base.List(ctx, lockPrefix("inst-1")); len(objs) != 0 {
			t.Fatalf("a failed Write left its lock: %v", keys(objs))
		}
	}
	// A corrupt stream fails too, without a manifest.
	v := newVault(mustFileTarget(t), clock.NewFake(t0), mustIdentity(t))
	stream, err := io.ReadAll(streamOf(t, in.db, in.blobs, nil))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(stream, []byte(secretAttachment))
	stream[i] ^= 1
	if _, err := v.Write(ctx, source("inst-9"), "b1", "", bytes.NewReader(stream)); err == nil {
		t.Fatal("Write of a corrupt stream succeeded")
	}
	if _, err := v.Manifest(ctx, "inst-9", "b1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a corrupt stream left a manifest: %v", err)
	}
}

// proxy forwards TCP connections to an address, refusing the first few: the S3
// server as a client sees it when it is briefly unavailable.
type proxy struct {
	l       net.Listener
	to      string
	refuse  atomic.Int64 // connections still to refuse; <0: refuse all
	refused atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func startProxy(t *testing.T, to string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, to: to}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if n := p.refuse.Load(); n != 0 {
			if n > 0 {
				p.refuse.Add(-1)
			}
			p.refused.Add(1)
			c.(*net.TCPConn).SetLinger(0) // a reset, as from a server going down
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// s3Via is an S3 target for s that connects through p, retrying quickly.
func s3Via(t *testing.T, s *s3test.Server, p *proxy) *S3Target {
	t.Helper()
	raw := strings.Replace(s.URL("sproudctl/backups"), url.QueryEscape(strings.TrimPrefix(s.Endpoint, "http://")), url.QueryEscape(p.l.Addr().String()), 1)
	tg, err := OpenTargetEnv(context.Background(), raw, s.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	st := tg.(*S3Target)
	st.backoff = time.Millisecond
	return st
}

func TestS3WritesRetryWhileTheServerIsBrieflyUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := s3test.Start(t)
	p := startProxy(t, strings.TrimPrefix(s.Endpoint, "http://"))
	tg := s3Via(t, s, p)
	in := mustTestInstance(t)
	v := newVault(tg, clock.NewFake(t0), mustIdentity(t))

	p.refuse.Store(3) // fewer than the attempts an operation gets
	if _, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatalf("Write while the server refused %d connections: %v", p.refused.Load(), err)
	}
	if p.refused.Load() != 3 {
		t.Fatalf("the proxy refused %d connections, want 3", p.refused.Load())
	}
	if _, err := v.Read(ctx, "inst-1", "b1", &bytes.Buffer{}); err != nil {
		t.Fatalf("Read after the retried Write: %v", err)
	}

	// A server that stays down fails the Write, after its retries, with no manifest.
	p.refuse.Store(-1)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	before := p.refused.Load()
	if _, err := v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, in.db, in.blobs, nil)); err == nil {
		t.Fatal("Write with the server down succeeded")
	}
	if n := p.refused.Load() - before; n < int64(tg.attempts) {
		t.Fatalf("the failed Write tried %d connections, want at least %d (retries)", n, tg.attempts)
	}
	direct := mustS3Target(t, s)
	if ok, err := direct.Exists(ctx, manifestKey("inst-1", "b2")); ok || err != nil {
		t.Fatalf("the failed Write left a manifest (%v, %v)", ok, err)
	}
}

// manifestFailing is a file target whose manifest Put fails: a Write that dies after
// its chunks, as a killed serve's would.
type manifestFailing struct{ *FileTarget }

func (m manifestFailing) Put(ctx context.Context, key string, body []byte) error {
	if strings.Contains(key, "/manifests/") {
		return errInjected
	}
	return m.FileTarget.Put(ctx, key, body)
}

// TestTornLeftoversAreNotTrusted: a file target's chunks reach the disk with one flush
// before the manifest, so a crash can leave chunks torn that no manifest names. The
// next Write must store them again rather than count them as stored.
func TestTornLeftoversAreNotTrusted(t *testing.T) {
	ctx := context.Background()
	in := mustTestInstance(t)
	cp := mustIdentity(t)
	ft := mustFileTarget(t)
	base := Target(ft)
	if _, err := newVault(manifestFailing{ft}, clock.NewFake(t0), cp).Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); !errors.Is(err, errInjected) {
		t.Fatalf("Write = %v, want the injected error", err)
	}
	left, err := base.List(ctx, chunkPrefix("inst-1"))
	if err != nil || len(left) == 0 {
		t.Fatalf("the failed Write left no chunks (%v): nothing to test", err)
	}
	for _, o := range left { // what a crash before the flush may leave
		if err := os.Truncate(filepath.Join(ft.root, filepath.FromSlash(o.Key)), o.Size/2); err != nil {
			t.Fatal(err)
		}
	}
	v := newVault(base, clock.NewFake(t0), cp)
	if _, err := v.Write(ctx, source("inst-1"), "b2", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := v.Read(ctx, "inst-1", "b2", &out); err != nil {
		t.Fatalf("Read after torn leftovers = %v: the Write trusted them", err)
	}
}

// TestWholeLeftoversAreKeptNotReplaced: a chunk the previous manifest does not name
// but an older one does is checked and kept, never replaced unflushed (a crash during
// the replacement would break the older backup).
func TestWholeLeftoversAreKeptNotReplaced(t *testing.T) {
	ctx := context.Background()
	in := mustTestInstance(t)
	ft := mustFileTarget(t)
	v := newVault(ft, clock.NewFake(t0), mustIdentity(t))
	extra := bytesEntry([]byte("an attachment that comes and goes"))
	with := append(append([]entry(nil), in.blobs...), extra)
	if _, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, with, nil)); err != nil {
		t.Fatal(err)
	}
	before, err := ft.List(ctx, chunkPrefix("inst-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	res, err := v.Write(ctx, source("inst-1"), "b3", "b2", streamOf(t, in.db, with, nil))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ft.List(ctx, chunkPrefix("inst-1"))
	if err != nil {
		t.Fatal(err)
	}
	was := map[string]time.Time{}
	for _, o := range before {
		was[o.Key] = o.Modified
	}
	for _, o := range after {
		if m, ok := was[o.Key]; ok && !o.Modified.Equal(m) {
			t.Errorf("chunk %s of backup b1 was written again", o.Key)
		}
	}
	if res.AddedObjects > 2 { // the manifest's changed piece and its top
		t.Errorf("third backup added %d objects; the returning attachment was stored already", res.AddedObjects)
	}
	var out bytes.Buffer
	if _, err := v.Read(ctx, "inst-1", "b1", &out); err != nil {
		t.Fatalf("Read b1 = %v", err)
	}
}
