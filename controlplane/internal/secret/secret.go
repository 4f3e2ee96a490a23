// Package secret holds the control plane's secret key (from --secret-key or a 0600 file
// in the data dir) and names where it seals what it must keep but never show: each
// instance's secret key and setup token, stored API responses, webhook URLs and signing
// secrets (with platform's sealbox).
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sproudstack/sproudchat/platform/sealbox"
)

// Box seals and opens values: platform's sealbox (AES-256-GCM, a key derived per
// place, the value bound to its place). The places the control plane seals to are below.
type Box = sealbox.Box

// New returns a Box for a key of at least 32 bytes.
func New(key []byte) (*Box, error) { return sealbox.New(key) }

// The places where the control plane keeps sealed values. Webhook rows get their id
// from the database on insert, so their values are bound to table and field only.
var (
	WebhookURL    = sealbox.Place{Table: "webhooks", Field: "url"}
	WebhookSecret = sealbox.Place{Table: "webhooks", Field: "secret"}
)

// InstanceSecrets is the place of instance id's secret key and setup token.
func InstanceSecrets(id string) sealbox.Place {
	return sealbox.Place{Table: "instances", Field: "secrets", Row: id}
}

// IdempotentBody is the place of the response stored for an idempotency key of a token.
func IdempotentBody(tokenID int64, key string) sealbox.Place {
	return sealbox.Place{Table: "idempotency_keys", Field: "body", Row: strconv.FormatInt(tokenID, 10) + "/" + key}
}

// ParseKey decodes 32 bytes given as hex or base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 random bytes, hex or base64 (e.g. openssl rand -hex 32)")
}

// LoadOrCreateKey reads the key file in dir, creating it (0600) with a random key the
// first time: the embedded default, so a laptop run needs no configuration.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	rand.Read(k)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(dir) // made by a concurrent start
	} else if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, nil
}

// Derive returns a stable public id for purpose made from key: the first 8 bytes of
// HMAC-SHA256(key, purpose), hex encoded. Every process with the key (replicas sharing
// a store share it) derives the same id; the id reveals nothing of the key.
func Derive(key []byte, purpose string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Random returns n random bytes, hex encoded.
func Random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// BackupIdentity is the place of the control plane's own age identity, which every
// instance's backup data key is wrapped for.
var BackupIdentity = sealbox.Place{Table: "control_keys", Field: "value", Row: "backup_identity"}
