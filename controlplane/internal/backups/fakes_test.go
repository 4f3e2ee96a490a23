package backups_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/snapshot"
	"github.com/sproudstack/sproudchat/provisioning"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// dataset is an instance's data as the fake tools hold it.
type dataset struct {
	DB    string
	Rows  map[string]int64
	Blobs map[string]string // sha -> content
}

func (d dataset) clone() dataset {
	out := dataset{DB: d.DB, Rows: map[string]int64{}, Blobs: map[string]string{}}
	for k, v := range d.Rows {
		out.Rows[k] = v
	}
	for k, v := range d.Blobs {
		out.Blobs[k] = v
	}
	return out
}

// tools is a fake provisioning.Tools over in-memory datasets, with the restore
// semantics of `sproudchat restore`: staged, swapped with the previous data kept until
// --commit, --rollback puts it back, a new restore first rolls back an uncommitted one.
type tools struct {
	mu       sync.Mutex
	data     map[string]dataset
	previous map[string]*dataset // uncommitted restore: the data before it
	stopped  map[string]bool
	calls    []string
	// Hook may fail a run (before it does anything) or act during it.
	Hook func(id string, args []string) error
}

func newTools() *tools {
	return &tools{data: map[string]dataset{}, previous: map[string]*dataset{}, stopped: map[string]bool{}}
}

func (t *tools) set(id string, d dataset) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.data[id] = d.clone()
}

func (t *tools) get(id string) dataset {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.data[id].clone()
}

func (t *tools) StopApp(_ context.Context, id string) error {
	t.mu.Lock()
	hook := t.Hook
	t.mu.Unlock()
	if hook != nil {
		if err := hook(id, []string{"stop"}); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, id+" stop")
	t.stopped[id] = true
	return nil
}

func (t *tools) RunTool(ctx context.Context, spec provisioning.Spec, args []string, stdin io.Reader, stdout io.Writer) error {
	t.mu.Lock()
	t.calls = append(t.calls, spec.ID+" "+strings.Join(args, " "))
	hook := t.Hook
	t.mu.Unlock()
	if hook != nil {
		if err := hook(spec.ID, args); err != nil {
			return err
		}
	}
	switch {
	case args[0] == "backup":
		return t.backup(spec.ID, stdin, stdout)
	case args[0] == "restore" && args[1] == "--from":
		return t.restore(ctx, spec.ID, stdin, stdout)
	case args[0] == "restore" && args[1] == "--commit":
		t.mu.Lock()
		delete(t.previous, spec.ID)
		t.mu.Unlock()
		return nil
	case args[0] == "restore" && args[1] == "--rollback":
		t.mu.Lock()
		t.rollback(spec.ID)
		t.mu.Unlock()
		return nil
	}
	return &provisioning.ToolError{Args: args, Code: 2, Stderr: "unknown command"}
}

func (t *tools) rollback(id string) {
	if p := t.previous[id]; p != nil {
		t.data[id] = *p
		delete(t.previous, id)
	}
}

func (t *tools) backup(id string, stdin io.Reader, stdout io.Writer) error {
	known := map[string]bool{}
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		for _, l := range strings.Fields(string(b)) {
			known[l] = true
		}
	}
	d := t.get(id)
	h := snapshot.Header{Dialect: snapshot.DialectSQLite, SchemaVersion: 1, TakenAt: time.Unix(0, 0).UTC(), Rows: d.Rows,
		Database: snapshot.File{SHA256: sum([]byte(d.DB)), Size: int64(len(d.DB))}}
	shas := make([]string, 0, len(d.Blobs))
	for s := range d.Blobs {
		shas = append(shas, s)
	}
	sort.Strings(shas)
	for _, s := range shas {
		h.Blobs = append(h.Blobs, snapshot.File{SHA256: s, Size: int64(len(d.Blobs[s]))})
	}
	w, err := snapshot.NewWriter(stdout, h)
	if err != nil {
		return err
	}
	if err := w.Database(strings.NewReader(d.DB)); err != nil {
		return err
	}
	for _, s := range shas {
		if known[s] {
			continue
		}
		if err := w.Blob(s, strings.NewReader(d.Blobs[s])); err != nil {
			return err
		}
	}
	return w.Close()
}

func (t *tools) restore(ctx context.Context, id string, stdin io.Reader, stdout io.Writer) error {
	t.mu.Lock()
	t.rollback(id) // an earlier uncommitted restore first
	t.mu.Unlock()
	r, err := snapshot.NewReader(stdin)
	if err != nil {
		return &provisioning.ToolError{Args: []string{"restore"}, Code: 2, Stderr: err.Error()}
	}
	nd := dataset{Rows: r.Header.Rows, Blobs: map[string]string{}}
	for {
		e, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &provisioning.ToolError{Args: []string{"restore"}, Code: 2, Stderr: err.Error()}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return &provisioning.ToolError{Args: []string{"restore"}, Code: 2, Stderr: err.Error()}
		}
		if e.Kind == snapshot.KindDatabase {
			nd.DB = string(b)
		} else {
			nd.Blobs[e.SHA256] = string(b)
		}
	}
	if len(r.Missing()) > 0 {
		return &provisioning.ToolError{Args: []string{"restore"}, Code: 1, Stderr: "blobs missing"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	prev := t.data[id].clone()
	t.previous[id] = &prev
	t.data[id] = nd
	t.mu.Unlock()
	var rows int64
	for _, n := range nd.Rows {
		rows += n
	}
	return json.NewEncoder(stdout).Encode(map[string]int64{"tables": int64(len(nd.Rows)), "rows": rows, "blobs": int64(len(nd.Blobs)), "bytes": int64(len(nd.DB))})
}

// fakeVault stores backups in memory the way the vault lays them out: a manifest per
// backup, content-addressed chunks per instance.
type fakeVault struct {
	mu        sync.Mutex
	objects   map[string][]byte // key -> body
	manifests map[string]vault.Manifest
	WriteErr  func() error
	ReadErr   error
}

func newVault() *fakeVault {
	return &fakeVault{objects: map[string][]byte{}, manifests: map[string]vault.Manifest{}}
}

func mkey(inst, bk string) string  { return "instances/" + inst + "/manifests/" + bk }
func ckey(inst, sha string) string { return "instances/" + inst + "/chunks/" + sha }

// Keys lists the stored objects of an instance.
func (v *fakeVault) Keys(inst string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for k := range v.objects {
		if strings.HasPrefix(k, "instances/"+inst+"/") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (v *fakeVault) Known(_ context.Context, inst, bk string) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.manifests[mkey(inst, bk)]
	if !ok {
		return nil, vault.ErrNotFound
	}
	var out []string
	for _, b := range m.Snapshot.Blobs {
		out = append(out, b.SHA256)
	}
	return out, nil
}

func (v *fakeVault) Write(_ context.Context, src vault.Source, bk, prev string, stream io.Reader) (vault.Result, error) {
	if v.WriteErr != nil {
		if err := v.WriteErr(); err != nil {
			io.Copy(io.Discard, stream)
			return vault.Result{}, err
		}
	}
	r, err := snapshot.NewReader(stream)
	if err != nil {
		return vault.Result{}, err
	}
	m := vault.Manifest{Format: 1, BackupID: bk, InstanceID: src.InstanceID, Slug: src.Slug, Plan: src.Plan, Snapshot: r.Header, Secrets: src.Secrets}
	var res vault.Result
	for {
		e, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return vault.Result{}, err
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return vault.Result{}, err
		}
		v.mu.Lock()
		k := ckey(src.InstanceID, e.SHA256)
		if _, ok := v.objects[k]; !ok {
			v.objects[k] = b
			res.AddedBytes += int64(len(b))
		}
		v.mu.Unlock()
		m.Files = append(m.Files, vault.File{Name: e.Name, SHA256: e.SHA256, Size: int64(len(b)), Chunks: []vault.Chunk{{Key: k, SHA256: e.SHA256, Size: int64(len(b))}}})
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, miss := range r.Missing() {
		pm, ok := v.manifests[mkey(src.InstanceID, prev)]
		if !ok || !hasBlob(pm, miss.SHA256) {
			return vault.Result{}, fmt.Errorf("blob %s omitted and not in %q", miss.SHA256, prev)
		}
		k := ckey(src.InstanceID, miss.SHA256)
		m.Files = append(m.Files, vault.File{Name: snapshot.BlobPrefix + miss.SHA256, SHA256: miss.SHA256, Size: miss.Size, Chunks: []vault.Chunk{{Key: k, SHA256: miss.SHA256, Size: miss.Size}}})
	}
	for _, f := range m.Files {
		res.SizeBytes += f.Size
	}
	v.manifests[mkey(src.InstanceID, bk)] = m
	v.objects[mkey(src.InstanceID, bk)] = []byte("manifest")
	res.Manifest = m
	return res, nil
}

func hasBlob(m vault.Manifest, sha string) bool {
	for _, b := range m.Snapshot.Blobs {
		if b.SHA256 == sha {
			return true
		}
	}
	return false
}

func (v *fakeVault) Manifest(_ context.Context, inst, bk string) (vault.Manifest, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.manifests[mkey(inst, bk)]
	if !ok {
		return vault.Manifest{}, vault.ErrNotFound
	}
	return m, nil
}

func (v *fakeVault) Read(ctx context.Context, inst, bk string, w io.Writer) (vault.Manifest, error) {
	if v.ReadErr != nil {
		return vault.Manifest{}, v.ReadErr
	}
	m, err := v.Manifest(ctx, inst, bk)
	if err != nil {
		return m, err
	}
	v.mu.Lock()
	bodies := map[string][]byte{}
	for _, f := range m.Files {
		b, ok := v.objects[f.Chunks[0].Key]
		if !ok {
			v.mu.Unlock()
			return vault.Manifest{}, vault.ErrMissing
		}
		bodies[f.Name] = b
	}
	v.mu.Unlock()
	sw, err := snapshot.NewWriter(w, m.Snapshot)
	if err != nil {
		return m, err
	}
	if err := sw.Database(bytes.NewReader(bodies[m.Snapshot.DatabaseName()])); err != nil {
		return m, err
	}
	for _, b := range m.Snapshot.Blobs {
		if err := sw.Blob(b.SHA256, bytes.NewReader(bodies[snapshot.BlobPrefix+b.SHA256])); err != nil {
			return m, err
		}
	}
	return m, sw.Close()
}

func (v *fakeVault) Delete(_ context.Context, inst, bk string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.manifests, mkey(inst, bk))
	delete(v.objects, mkey(inst, bk))
	return nil
}

func (v *fakeVault) Collect(_ context.Context, inst string) (int, int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	used := map[string]bool{}
	for k, m := range v.manifests {
		if strings.HasPrefix(k, "instances/"+inst+"/") {
			for _, f := range m.Files {
				used[f.Chunks[0].Key] = true
			}
		}
	}
	n, size := 0, int64(0)
	for k, b := range v.objects {
		if strings.HasPrefix(k, "instances/"+inst+"/chunks/") && !used[k] {
			delete(v.objects, k)
			n++
			size += int64(len(b))
		}
	}
	return n, size, nil
}

func (v *fakeVault) Purge(_ context.Context, inst string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.objects {
		if strings.HasPrefix(k, "instances/"+inst+"/") {
			delete(v.objects, k)
		}
	}
	for k := range v.manifests {
		if strings.HasPrefix(k, "instances/"+inst+"/") {
			delete(v.manifests, k)
		}
	}
	return nil
}

var errTarget = errors.New("target unavailable")
