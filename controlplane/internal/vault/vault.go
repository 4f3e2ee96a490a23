// Package vault keeps instance backups at a target (a directory or S3-compatible object
// storage), encrypted before they leave the host: every object is age-encrypted to the
// instance's data key, which is stored wrapped for the control plane's key and every
// offline recipient (instances/<id>/key.age). The database and every blob are split
// into content-defined chunks, compressed with zstd and stored once per instance under
// keyed-hash names (instances/<id>/chunks/<hmac>): the target learns neither content nor
// plain content hashes. A backup's manifest (instances/<id>/manifests/<backup>.age) is
// written last; its body is chunked too, so consecutive backups share it. Write and
// Collect of one instance exclude each other through lock objects (instances/<id>/locks/).
package vault

import (
	"context"
	"errors"
	"time"

	"filippo.io/age"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// Errors a restore or an inspection returns; each leaves everything as it was.
var (
	ErrNotFound = errors.New("backup not found")
	ErrKey      = errors.New("backup cannot be opened with the keys given")
	ErrTampered = errors.New("backup object fails its integrity check")
	ErrForeign  = errors.New("backup belongs to another instance")
	ErrMissing  = errors.New("backup object is missing at the target")
	// ErrBusy: another operation holds the instance (a Collect during a Write, or the
	// reverse); try again later.
	ErrBusy = errors.New("backup vault is busy with another operation on this instance")
)

// Target stores objects by key. Put replaces atomically: a reader sees the whole old or
// the whole new object, never a part.
type Target interface {
	Put(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error) // ErrNotFound when absent
	Exists(ctx context.Context, key string) (bool, error)
	Delete(ctx context.Context, key string) error // absent is success
	List(ctx context.Context, prefix string) ([]Object, error)
}

// Object is one stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Options configure a Vault.
type Options struct {
	Target Target
	// Identities open data keys: the control plane's own, or for a recovery without
	// the control plane, an operator's offline identity.
	Identities []age.Identity
	// Recipients wrap every data key: the control plane's own recipient and every
	// --backup-recipient. A vault that only reads may have none.
	Recipients []age.Recipient
	Clock      clock.Clock
}

// Vault stores and reads backups. It is safe for concurrent use; operations on one
// instance that would conflict (a Collect while a Write runs) return ErrBusy.
type Vault struct {
	opts  Options
	codec *codec
}

// New returns a vault. A nil Clock is the wall clock.
func New(o Options) *Vault {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &Vault{opts: o, codec: newCodec()}
}

// Source is the instance a backup is of, recorded in its manifest.
type Source struct {
	InstanceID, Slug, Plan, CustomerID string
	// Secrets are the instance's secrets (SPROUDCHAT_SECRET_KEY above all): a restore
	// into a new instance, or a recovery with only an offline identity, needs them.
	Secrets map[string]string
}

// Manifest lists what one backup is made of.
type Manifest struct {
	Format     int               `json:"format"`
	BackupID   string            `json:"backup_id"`
	InstanceID string            `json:"instance_id"`
	Slug       string            `json:"slug"`
	Plan       string            `json:"plan"`
	CustomerID string            `json:"customer_id"`
	TakenAt    time.Time         `json:"taken_at"`
	Snapshot   snapshot.Header   `json:"snapshot"`
	Secrets    map[string]string `json:"secrets"`
	Files      []File            `json:"files"` // the database, then every blob
}

// File is one snapshot entry and the chunks it is stored in.
type File struct {
	Name   string  `json:"name"` // the snapshot entry name
	SHA256 string  `json:"sha256"`
	Size   int64   `json:"size"`
	Chunks []Chunk `json:"chunks"`
}

// Chunk is one stored object.
type Chunk struct {
	Key string `json:"key"` // object name under the instance's chunks/: the keyed hash
	// SHA256 of the plaintext: left empty since Key, a keyed hash of the plaintext,
	// names and checks it alike for a third less manifest (every backup stores one).
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`   // plaintext bytes
	Stored int64  `json:"stored"` // bytes at the target
}

// Result is what a Write stored.
type Result struct {
	Manifest     Manifest
	SizeBytes    int64 // every object the backup references, as stored
	AddedBytes   int64 // what this backup uploaded that was not stored before
	Objects      int
	AddedObjects int
}

// Found is a backup seen at the target without opening it.
type Found struct {
	InstanceID, BackupID string
	Modified             time.Time
}
