package vault

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/restic/chunker"
)

// keyFile is key.age's plaintext.
type keyFile struct {
	Format     int    `json:"format"`
	InstanceID string `json:"instance_id"`
	Identity   string `json:"identity"` // AGE-SECRET-KEY-1…
	// Recipients is recipientsHash of what the file is wrapped for: when the vault's
	// recipients differ, Write wraps it again.
	Recipients string `json:"recipients"`
}

// dataKey is an instance's data key and what is derived from it.
type dataKey struct {
	identity *age.X25519Identity
	// object encrypts and opens the instance's objects (chunks, manifests).
	object objectKey
	mac    []byte      // names chunks: HMAC-SHA256(mac, plaintext)
	pol    chunker.Pol // the chunker's polynomial: boundaries differ per instance
}

func newDataKey(id *age.X25519Identity) (*dataKey, error) {
	secret := []byte(id.String())
	mac, err := hkdf.Key(sha256.New, secret, nil, "sproudchat vault chunk names", 32)
	if err != nil {
		return nil, err
	}
	seed, err := hkdf.Key(sha256.New, secret, nil, "sproudchat vault chunker polynomial", 32)
	if err != nil {
		return nil, err
	}
	pol, err := chunker.DerivePolynomial(rand.NewChaCha8([32]byte(seed)))
	if err != nil {
		return nil, fmt.Errorf("derive chunker polynomial: %w", err)
	}
	ok, err := hkdf.Key(sha256.New, secret, nil, "sproudchat vault object key", 32)
	if err != nil {
		return nil, err
	}
	obj, err := newObjectKey(ok)
	if err != nil {
		return nil, err
	}
	return &dataKey{identity: id, object: obj, mac: mac, pol: pol}, nil
}

// name is a chunk's object name: a keyed hash of its SHA-256, so the target cannot
// test a guess.
func (k *dataKey) name(plain []byte) string { return k.nameOf(sha256.Sum256(plain)) }

// nameOf is name given the plaintext's SHA-256 (a blob's is its name in the snapshot,
// checked as it is read: no second pass over it).
func (k *dataKey) nameOf(sum [32]byte) string {
	h := hmac.New(sha256.New, k.mac)
	h.Write(sum[:])
	return hex.EncodeToString(h.Sum(nil))
}

// recipientsHash identifies a set of recipients regardless of order.
func recipientsHash(rs []age.Recipient) (string, error) {
	var ss []string
	for _, r := range rs {
		s, ok := r.(fmt.Stringer)
		if !ok {
			return "", fmt.Errorf("backup recipient %T has no text form", r)
		}
		ss = append(ss, s.String())
	}
	slices.Sort(ss)
	ss = slices.Compact(ss)
	h := sha256.Sum256([]byte(strings.Join(ss, "\n")))
	return hex.EncodeToString(h[:]), nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkIDs(ids ...string) error {
	for _, id := range ids {
		if !idPattern.MatchString(id) {
			return fmt.Errorf("invalid instance or backup id %q", id)
		}
	}
	return nil
}

func instancePrefix(id string) string      { return "instances/" + id + "/" }
func keyKey(id string) string              { return instancePrefix(id) + "key.age" }
func chunkPrefix(id string) string         { return instancePrefix(id) + "chunks/" }
func chunkKey(id, name string) string      { return chunkPrefix(id) + name }
func manifestPrefix(id string) string      { return instancePrefix(id) + "manifests/" }
func manifestKey(id, backup string) string { return manifestPrefix(id) + backup + ".age" }

// openKey reads instanceID's data key. Returns ErrNotFound when it has none, ErrKey
// when none of the vault's identities opens it, ErrForeign when it is another
// instance's, ErrTampered when it is not a key file.
func (v *Vault) openKey(ctx context.Context, instanceID string) (*dataKey, keyFile, error) {
	b, err := v.opts.Target.Get(ctx, keyKey(instanceID))
	if err != nil {
		return nil, keyFile{}, fmt.Errorf("read data key of %s: %w", instanceID, err)
	}
	if len(v.opts.Identities) == 0 {
		return nil, keyFile{}, fmt.Errorf("open data key of %s: the vault has no identity: %w", instanceID, ErrKey)
	}
	r, err := age.Decrypt(bytes.NewReader(b), v.opts.Identities...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, keyFile{}, fmt.Errorf("open data key of %s: %w", instanceID, ErrKey)
	}
	if err != nil {
		return nil, keyFile{}, fmt.Errorf("open data key of %s: %v: %w", instanceID, err, ErrTampered)
	}
	// Read to the end: age authenticates the last piece only there.
	plain, err := io.ReadAll(io.LimitReader(r, 64<<10))
	var kf keyFile
	if err == nil {
		err = json.Unmarshal(plain, &kf)
	}
	if err != nil {
		return nil, keyFile{}, fmt.Errorf("open data key of %s: %v: %w", instanceID, err, ErrTampered)
	}
	if kf.InstanceID != instanceID {
		return nil, keyFile{}, fmt.Errorf("data key at %s is instance %s's: %w", instanceID, kf.InstanceID, ErrForeign)
	}
	id, err := age.ParseX25519Identity(kf.Identity)
	if err != nil || kf.Format != 1 {
		return nil, keyFile{}, fmt.Errorf("open data key of %s: not a key file: %w", instanceID, ErrTampered)
	}
	k, err := newDataKey(id)
	return k, kf, err
}

// writeKey wraps kf for every recipient of the vault and stores it.
func (v *Vault) writeKey(ctx context.Context, kf keyFile) error {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, v.opts.Recipients...)
	if err != nil {
		return fmt.Errorf("wrap data key: %w", err)
	}
	if err := json.NewEncoder(w).Encode(kf); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return v.opts.Target.Put(ctx, keyKey(kf.InstanceID), buf.Bytes())
}

// writableKey returns instanceID's data key for a backup: created at the first one,
// wrapped again when the vault's recipients changed since it was wrapped.
func (v *Vault) writableKey(ctx context.Context, instanceID string) (*dataKey, error) {
	if len(v.opts.Recipients) == 0 {
		return nil, errors.New("write backup: the vault has no recipient to wrap the data key for")
	}
	want, err := recipientsHash(v.opts.Recipients)
	if err != nil {
		return nil, err
	}
	k, kf, err := v.openKey(ctx, instanceID)
	if errors.Is(err, ErrNotFound) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		kf = keyFile{Format: 1, InstanceID: instanceID, Identity: id.String(), Recipients: want}
		if err := v.writeKey(ctx, kf); err != nil {
			return nil, err
		}
		return newDataKey(id)
	}
	if err != nil {
		return nil, err
	}
	if kf.Recipients != want {
		kf.Recipients = want
		if err := v.writeKey(ctx, kf); err != nil {
			return nil, fmt.Errorf("wrap data key of %s for the new recipients: %w", instanceID, err)
		}
	}
	return k, nil
}

func randomName() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
