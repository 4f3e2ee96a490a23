// Package config reads the instance contract: the SPROUDCHAT_* environment variables
// every runtime sets. Names are fixed (DESIGN.md); each secret also works as
// <NAME>_FILE. Load validates everything and touches nothing on disk, so a bad
// configuration fails before any file or database is created.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// idPattern is the control plane's instance id: it goes into a response header as is.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Mode is whether the instance accepts changes.
type Mode string

// The two modes of an instance.
const (
	ModeActive   Mode = "active"
	ModeReadOnly Mode = "read_only"
)

// Config is the validated configuration of one instance.
type Config struct {
	ListenAddr string
	DataDir    string
	// InstanceID is the control plane's id of this instance; /healthz answers it so the
	// edge router knows it reached this instance and not whatever took its old port.
	// Empty for an instance run alone.
	InstanceID    string
	DatabaseURL   string // empty means SQLite in DataDir
	Mode          Mode
	ReadOnlyUntil time.Time // zero when not given
	BaseURL       *url.URL
	SecretKey     []byte
	SetupToken    string // empty: the app generates one while no admin exists
	SMTPURL       *url.URL
	MailFrom      string // "Name <address>"; default no-reply at the base URL's host
	// AttachmentMaxBytes bounds one file, AttachmentQuotaBytes all of them together.
	AttachmentMaxBytes   int64
	AttachmentQuotaBytes int64
}

// SQLitePath is the database file used when no DatabaseURL is given.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "sproudchat.db") }

// UsesPostgres tells whether the database is PostgreSQL.
func (c Config) UsesPostgres() bool { return c.DatabaseURL != "" }

// Error names the variable that is wrong and why.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return e.Var + ": " + e.Reason }

// Getenv is os.Getenv's shape, so tests can pass a map.
type Getenv func(string) string

// Load reads and validates the configuration. Returns an *Error naming the first bad
// variable; it reads secret files but writes nothing.
func Load(getenv Getenv) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		ListenAddr: r.str("SPROUDCHAT_LISTEN_ADDR", ":8080"),
		DataDir:    r.str("SPROUDCHAT_DATA_DIR", "./data"),
		Mode:       Mode(r.str("SPROUDCHAT_MODE", string(ModeActive))),
	}
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil || port == "" {
		return c, &Error{"SPROUDCHAT_LISTEN_ADDR", fmt.Sprintf("%q is not host:port (e.g. :8080)", c.ListenAddr)}
	}
	if c.DataDir == "" {
		return c, &Error{"SPROUDCHAT_DATA_DIR", "must not be empty"}
	}
	if c.InstanceID = r.str("SPROUDCHAT_INSTANCE_ID", ""); c.InstanceID != "" && !idPattern.MatchString(c.InstanceID) {
		return c, &Error{"SPROUDCHAT_INSTANCE_ID", fmt.Sprintf("%q is not an instance id (1-63 lower-case letters, digits or hyphens)", c.InstanceID)}
	}
	if c.Mode != ModeActive && c.Mode != ModeReadOnly {
		return c, &Error{"SPROUDCHAT_MODE", fmt.Sprintf("%q is neither active nor read_only", c.Mode)}
	}
	if v := r.str("SPROUDCHAT_READ_ONLY_UNTIL", ""); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return c, &Error{"SPROUDCHAT_READ_ONLY_UNTIL", fmt.Sprintf("%q is not an RFC 3339 time", v)}
		}
		c.ReadOnlyUntil = t.UTC()
	}
	var err error
	if c.DatabaseURL, err = r.databaseURL(); err != nil {
		return c, err
	}
	if c.BaseURL, err = baseURL(r.str("SPROUDCHAT_BASE_URL", ""), c.ListenAddr); err != nil {
		return c, err
	}
	key, err := r.secret("SPROUDCHAT_SECRET_KEY")
	if err != nil {
		return c, err
	}
	if c.SecretKey, err = decodeKey(key); err != nil {
		return c, err
	}
	if c.SetupToken, err = r.secret("SPROUDCHAT_SETUP_TOKEN"); err != nil {
		return c, err
	}
	if c.SetupToken != "" && len(c.SetupToken) < 16 {
		return c, &Error{"SPROUDCHAT_SETUP_TOKEN", "must be at least 16 characters"}
	}
	c.MailFrom = r.str("SPROUDCHAT_MAIL_FROM", "sproudchat <no-reply@"+c.BaseURL.Hostname()+">")
	if a, perr := mail.ParseAddress(c.MailFrom); perr != nil || !strings.Contains(a.Address, "@") {
		return c, &Error{"SPROUDCHAT_MAIL_FROM", fmt.Sprintf("%q is not an e-mail address such as \"Acme Support <support@acme.example>\"", c.MailFrom)}
	}
	if c.AttachmentMaxBytes, err = r.size("SPROUDCHAT_ATTACHMENT_MAX_BYTES", 10<<20); err != nil {
		return c, err
	}
	if c.AttachmentQuotaBytes, err = r.size("SPROUDCHAT_ATTACHMENT_QUOTA_BYTES", 5<<30); err != nil {
		return c, err
	}
	smtp, err := r.secret("SPROUDCHAT_SMTP_URL")
	if err != nil {
		return c, err
	}
	if smtp != "" {
		u, perr := url.Parse(smtp)
		if perr != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return c, &Error{"SPROUDCHAT_SMTP_URL", "must be smtp://user:pass@host:port or smtps://…"}
		}
		// A misspelt option must not quietly leave STARTTLS optional.
		if q := u.Query(); len(q) > 1 || len(q) == 1 && (len(q["tls"]) != 1 || q.Get("tls") != "required") {
			return c, &Error{"SPROUDCHAT_SMTP_URL", "the one option is ?tls=required (STARTTLS or no mail)"}
		}
		c.SMTPURL = u
	}
	return c, nil
}

// LoadData reads only where the data is: SPROUDCHAT_DATA_DIR and
// SPROUDCHAT_DATABASE_URL (or its _FILE), for the backup and restore tools, which run
// without the instance's other settings and secrets. Returns an *Error naming a bad
// variable.
func LoadData(getenv Getenv) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{DataDir: r.str("SPROUDCHAT_DATA_DIR", "./data")}
	var err error
	c.DatabaseURL, err = r.databaseURL()
	return c, err
}

func (r reader) databaseURL() (string, error) {
	v, err := r.secret("SPROUDCHAT_DATABASE_URL")
	if err != nil || v == "" {
		return v, err
	}
	u, perr := url.Parse(v)
	if perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// The URL may hold a password: never echo it.
		return "", &Error{"SPROUDCHAT_DATABASE_URL", "must be empty (SQLite) or a postgres://user:pass@host/db URL"}
	}
	return v, nil
}

type reader struct{ getenv Getenv }

func (r reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// size reads a positive number of bytes.
func (r reader) size(name string, def int64) (int64, error) {
	v := r.str(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, &Error{name, fmt.Sprintf("%q is not a positive number of bytes", v)}
	}
	return n, nil
}

// secret reads NAME or NAME_FILE; giving both is an error because one would silently win.
func (r reader) secret(name string) (string, error) {
	v, file := r.getenv(name), r.getenv(name+"_FILE")
	if v != "" && file != "" {
		return "", &Error{name, "set either " + name + " or " + name + "_FILE, not both"}
	}
	if file == "" {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", &Error{name + "_FILE", "cannot read " + file + ": " + errors.Unwrap(err).Error()}
	}
	return strings.TrimSpace(string(b)), nil
}

func baseURL(v, listen string) (*url.URL, error) {
	if v == "" {
		host, port, _ := net.SplitHostPort(listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		v = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, &Error{"SPROUDCHAT_BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", v)}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// decodeKey accepts hex or (standard or URL-safe, padded or not) base64 encoding
// of at least 32 random bytes.
func decodeKey(v string) ([]byte, error) {
	const name = "SPROUDCHAT_SECRET_KEY"
	if v == "" {
		return nil, &Error{name, "is required: at least 32 random bytes, hex or base64 (e.g. openssl rand -hex 32)"}
	}
	var key []byte
	if b, err := hex.DecodeString(v); err == nil {
		key = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil {
				key = b
				break
			}
		}
	}
	if key == nil {
		return nil, &Error{name, "is neither hex nor base64"}
	}
	if len(key) < 32 {
		return nil, &Error{name, fmt.Sprintf("decodes to %d bytes; at least 32 are required", len(key))}
	}
	return key, nil
}
