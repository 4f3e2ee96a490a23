package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
	"github.com/sproudstack/sproudchat/platform/sealbox"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// Sealer seals what is kept secret at rest, bound to where it is kept (the places in
// package secret), and opens it again (secret.Box).
type Sealer interface {
	Seal(plaintext []byte, p sealbox.Place) []byte
	Open(sealed []byte, p sealbox.Place) ([]byte, error)
}

// SecretStore reads an instance's sealed secrets.
type SecretStore interface {
	// Secrets returns lifecycle.ErrNotFound for an unknown instance.
	Secrets(ctx context.Context, id string) ([]byte, error)
}

// SpecOptions configure Specs.
type SpecOptions struct {
	Box     Sealer
	Plans   map[string]template.Plan
	Version string // replaces {version} in plan images
	// BaseDomain, Scheme and PublicPort make instance URLs: scheme://slug.base-domain[:port].
	BaseDomain string
	Scheme     string // default http
	PublicPort string // "" for the scheme's default
}

// Specs renders what is made of an instance: its spec for the runtime (with its opened
// secrets), its public URL, the webhook payloads of its events.
type Specs struct {
	store SecretStore
	opts  SpecOptions
}

// NewSpecs returns the renderer.
func NewSpecs(s SecretStore, o SpecOptions) *Specs {
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	return &Specs{store: s, opts: o}
}

// URL is the public address of the instance with this slug.
func (s *Specs) URL(slug string) string {
	host := slug + "." + s.opts.BaseDomain
	if s.opts.PublicPort != "" {
		host = net.JoinHostPort(host, s.opts.PublicPort)
	}
	return s.opts.Scheme + "://" + host
}

// ReadOnlyDays is how long a suspended instance of plan stays readable (30 by default).
func (s *Specs) ReadOnlyDays(plan string) int {
	if p, ok := s.opts.Plans[plan]; ok && p.Lifecycle.ReadOnlyDays > 0 {
		return p.Lifecycle.ReadOnlyDays
	}
	return 30
}

// Payload is the webhook body of ev about inst, made before ev is written so that the
// store queues it in the same transaction.
func (s *Specs) Payload(ev lifecycle.Event, inst lifecycle.Instance) []byte {
	return wire.Payload(ev, inst, s.URL(inst.Slug))
}

// Spec renders what the runtime must make of inst in mode. Returns an error wrapping
// provisioning.ErrInvalid when the instance's plan is no longer loaded.
func (s *Specs) Spec(ctx context.Context, inst lifecycle.Instance, mode provisioning.Mode) (provisioning.Spec, error) {
	plan, ok := s.opts.Plans[inst.Plan]
	if !ok {
		return provisioning.Spec{}, fmt.Errorf("%w: instance %s has plan %q, which is no longer loaded", provisioning.ErrInvalid, inst.ID, inst.Plan)
	}
	sealed, err := s.store.Secrets(ctx, inst.ID)
	if err != nil {
		return provisioning.Spec{}, err
	}
	raw, err := s.opts.Box.Open(sealed, secret.InstanceSecrets(inst.ID))
	if err != nil {
		return provisioning.Spec{}, fmt.Errorf("secrets of %s: %w", inst.ID, err)
	}
	var sec lifecycle.Secrets
	if err := json.Unmarshal(raw, &sec); err != nil {
		return provisioning.Spec{}, fmt.Errorf("secrets of %s: %w", inst.ID, err)
	}
	return s.render(plan, inst, sec, mode)
}

// ScratchSpec renders what the runtime must make of an instance the store does not
// hold (a restore drill's scratch instance) with the secrets given. Errors as Spec.
func (s *Specs) ScratchSpec(inst lifecycle.Instance, sec lifecycle.Secrets, mode provisioning.Mode) (provisioning.Spec, error) {
	plan, ok := s.opts.Plans[inst.Plan]
	if !ok {
		return provisioning.Spec{}, fmt.Errorf("%w: instance %s has plan %q, which is no longer loaded", provisioning.ErrInvalid, inst.ID, inst.Plan)
	}
	return s.render(plan, inst, sec, mode)
}

func (s *Specs) render(plan template.Plan, inst lifecycle.Instance, sec lifecycle.Secrets, mode provisioning.Mode) (provisioning.Spec, error) {
	var until time.Time
	if mode == provisioning.ModeReadOnly && inst.PurgeAfter != nil {
		until = *inst.PurgeAfter
	}
	return plan.Render(template.Instance{ID: inst.ID, Slug: inst.Slug, Mode: mode, ReadOnlyUntil: until, BaseURL: s.URL(inst.Slug),
		Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": sec.SecretKey, "SPROUDCHAT_SETUP_TOKEN": sec.SetupToken}},
		template.Options{Version: s.opts.Version})
}

// BackupRetentionDays is plan's backup_retention_days as the plan says it
// (lifecycle.MaxRetentionDays for an unknown plan or none set); the backups service
// caps it at lifecycle.MaxRetentionDays.
func (s *Specs) BackupRetentionDays(plan string) int {
	if p, ok := s.opts.Plans[plan]; ok && p.Lifecycle.BackupRetentionDays > 0 {
		return p.Lifecycle.BackupRetentionDays
	}
	return lifecycle.MaxRetentionDays
}

// sealSecrets is how instance id's secrets are kept.
func (s *Specs) sealSecrets(id string, sec lifecycle.Secrets) []byte {
	raw, _ := json.Marshal(sec)
	return s.opts.Box.Seal(raw, secret.InstanceSecrets(id))
}

// PublicPort extracts the port of an address for instance URLs: "" for 80 and 443.
func PublicPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "80" || port == "443" {
		return ""
	}
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	return port
}
