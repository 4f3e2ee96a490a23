// Package provisioning is what an instance is, independent of where it runs: the Spec a
// plan renders, the Status a runtime reports, and the Runtime contract that the docker
// and process drivers implement. It imports no driver's types.
package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mode is whether an instance accepts changes.
type Mode string

// The modes of an instance (SPROUDCHAT_MODE).
const (
	ModeActive   Mode = "active"
	ModeReadOnly Mode = "read_only"
)

// DatabaseKind is where an instance keeps its data.
type DatabaseKind string

// The database kinds a plan may name.
const (
	// SQLite keeps the database as a file in the app's data volume.
	SQLite DatabaseKind = "sqlite"
	// Postgres runs PostgreSQL in its own container on the instance's network.
	Postgres DatabaseKind = "postgres"
)

// Spec is one instance as it should be.
type Spec struct {
	ID            string // the control plane's instance id; labels and directories use it
	Slug          string // DNS label: names and the instance URL use it
	Mode          Mode
	ReadOnlyUntil time.Time // shown in the read-only banner; zero when active
	BaseURL       string    // the instance's public URL
	App           AppSpec
	Database      DatabaseSpec
	// Secrets are SPROUDCHAT_* variables that must never show in labels, names or logs
	// (SPROUDCHAT_SECRET_KEY, SPROUDCHAT_SETUP_TOKEN, SPROUDCHAT_SMTP_URL, …).
	Secrets map[string]string
}

// AppSpec is the app container or process.
type AppSpec struct {
	Image     string // container image; the process runtime runs its own binary
	Resources Resources
	// AttachmentQuotaBytes bounds what the instance stores in its data dir.
	AttachmentQuotaBytes int64
	// Env holds further non-secret SPROUDCHAT_* settings.
	Env map[string]string
}

// DatabaseSpec is the instance's database.
type DatabaseSpec struct {
	Kind      DatabaseKind
	Image     string // for Postgres
	Resources Resources
}

// Resources bound one container or process.
type Resources struct {
	MemoryBytes int64
	MilliCPUs   int64 // 1000 = one core
	PIDs        int64
}

var (
	slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$`)
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	envPattern  = regexp.MustCompile(`^SPROUDCHAT_[A-Z0-9_]+$`)
)

// ValidSlug tells whether s is a DNS label of 3 to 63 lower-case letters, digits and
// inner hyphens.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) }

// Validate returns an error wrapping ErrInvalid that lists every problem of the spec.
func (s Spec) Validate() error {
	var p []string
	if !idPattern.MatchString(s.ID) {
		p = append(p, fmt.Sprintf("id %q: must be 1-63 lower-case letters, digits or hyphens", s.ID))
	}
	if !ValidSlug(s.Slug) {
		p = append(p, fmt.Sprintf("slug %q: must be a DNS label of 3-63 lower-case letters, digits and inner hyphens", s.Slug))
	}
	if s.Mode != ModeActive && s.Mode != ModeReadOnly {
		p = append(p, fmt.Sprintf("mode %q: must be active or read_only", s.Mode))
	}
	if !strings.HasPrefix(s.BaseURL, "http://") && !strings.HasPrefix(s.BaseURL, "https://") {
		p = append(p, fmt.Sprintf("base URL %q: must be an absolute http(s) URL", s.BaseURL))
	}
	if s.Database.Kind != SQLite && s.Database.Kind != Postgres {
		p = append(p, fmt.Sprintf("database kind %q: must be sqlite or postgres", s.Database.Kind))
	}
	r := s.App.Resources
	if r.MemoryBytes < 0 || r.MilliCPUs < 0 || r.PIDs < 0 {
		p = append(p, "app resources: must not be negative")
	}
	for _, m := range []map[string]string{s.Secrets, s.App.Env} {
		for k := range m {
			if !envPattern.MatchString(k) {
				p = append(p, fmt.Sprintf("variable %q: must be SPROUDCHAT_*", k))
			}
		}
	}
	for k := range s.App.Env {
		if _, ok := s.Secrets[k]; ok {
			p = append(p, fmt.Sprintf("variable %q: set both as a secret and in the app env", k))
		}
	}
	if len(p) == 0 {
		return nil
	}
	sort.Strings(p)
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(p, "; "))
}

// Environment is the instance contract's variables for this spec, secrets included, and
// SPROUDCHAT_INSTANCE_ID (the spec's ID). listenAddr, dataDir and databaseURL are the
// runtime's to choose.
func (s Spec) Environment(listenAddr, dataDir, databaseURL string) map[string]string {
	env := map[string]string{
		"SPROUDCHAT_LISTEN_ADDR": listenAddr,
		"SPROUDCHAT_DATA_DIR":    dataDir,
		"SPROUDCHAT_MODE":        string(s.Mode),
		"SPROUDCHAT_BASE_URL":    s.BaseURL,
	}
	if databaseURL != "" {
		env["SPROUDCHAT_DATABASE_URL"] = databaseURL
	}
	if !s.ReadOnlyUntil.IsZero() {
		env["SPROUDCHAT_READ_ONLY_UNTIL"] = s.ReadOnlyUntil.UTC().Format(time.RFC3339)
	}
	if s.App.AttachmentQuotaBytes > 0 {
		env["SPROUDCHAT_ATTACHMENT_QUOTA_BYTES"] = strconv.FormatInt(s.App.AttachmentQuotaBytes, 10)
	}
	for k, v := range s.App.Env {
		env[k] = v
	}
	for k, v := range s.Secrets {
		env[k] = v
	}
	// Last, so no plan variable can make an instance answer as another one: the edge
	// router checks this id on /healthz before it sends the instance any traffic.
	env["SPROUDCHAT_INSTANCE_ID"] = s.ID
	return env
}

// Hash identifies what a runtime makes of the spec: the spec's content and the
// environment it gives the app. A runtime recreates the app when it changes, so an app
// started by an older control plane, whose contract lacked a variable that this one
// sets (SPROUDCHAT_INSTANCE_ID, say), is recreated by its next Apply. Secret values
// enter it only as their own SHA-256, so the hash (which runtimes store in labels)
// reveals nothing of them.
func (s Spec) Hash() string {
	c := s
	c.Secrets = make(map[string]string, len(s.Secrets))
	for k, v := range s.Secrets {
		c.Secrets[k] = sha256Hex(v)
	}
	env := s.Environment("", "", "")
	for k := range s.Secrets {
		env[k] = c.Secrets[k]
	}
	// Maps marshal in key order: the hash is stable.
	b, _ := json.Marshal(struct {
		Spec Spec
		Env  map[string]string
	}{c, env})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func sha256Hex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}
