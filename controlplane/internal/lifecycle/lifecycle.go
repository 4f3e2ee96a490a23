// Package lifecycle is the control plane's domain: an instance, its states and desired
// states, the rules that move one toward the other, and the validation of what billing
// asks for. It knows nothing of HTTP, SQL or Docker.
package lifecycle

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/provisioning"
)

// State is where an instance is.
type State string

// The states of an instance (DESIGN.md, "Instance lifecycle").
const (
	Provisioning State = "provisioning"
	Active       State = "active"
	Suspending   State = "suspending"
	Suspended    State = "suspended"
	Resuming     State = "resuming"
	Destroying   State = "destroying"
	Destroyed    State = "destroyed"
	Failed       State = "failed"
)

// States lists every state.
var States = []State{Provisioning, Active, Suspending, Suspended, Resuming, Destroying, Destroyed, Failed, Restoring}

// Valid tells whether s is a known state.
func (s State) Valid() bool {
	for _, x := range States {
		if s == x {
			return true
		}
	}
	return false
}

// Desired is what was asked for an instance.
type Desired string

// The desired states.
const (
	WantActive    Desired = "active"
	WantSuspended Desired = "suspended"
	WantDestroyed Desired = "destroyed"
)

// Event types, recorded for every transition.
const (
	EventCreated     = "instance.created"
	EventActivated   = "instance.activated"
	EventSuspended   = "instance.suspended"
	EventResumed     = "instance.resumed"
	EventDestroyed   = "instance.destroyed"
	EventFailed      = "instance.failed"
	EventRequested   = "instance.requested" // a change of desired state was asked
	EventRetried     = "instance.retried"
	EventApplyFailed = "instance.apply_failed" // one attempt failed; retries go on
)

// EventTypes lists the types a webhook may subscribe to.
var EventTypes = []string{EventCreated, EventActivated, EventSuspended, EventResumed, EventDestroyed, EventFailed,
	EventBackupCompleted, EventBackupFailed, EventRestored}

// Instance is one customer's instance as the control plane records it.
type Instance struct {
	ID           string
	CustomerID   string
	Slug         string
	Plan         string
	AdminEmail   string
	AdminName    string
	State        State
	Desired      Desired
	Upstream     string // where the edge router sends its traffic
	LastError    string
	Attempts     int
	NextAttempt  time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	SuspendedAt  *time.Time
	PurgeAfter   *time.Time
	DestroyedAt  *time.Time
	SuspendNote  string // the reason given with the suspension
	LeaseOwner   string
	LeaseExpires *time.Time
	// RestoreBackupID is the backup being restored (state restoring), or, for a new
	// instance made from a backup, the one to restore once it runs.
	RestoreBackupID string
	// RestoreFrom is the state a restore returns to.
	RestoreFrom State
	// BackupStaleAt is when backup.stale was raised; nil since the last completed backup.
	BackupStaleAt *time.Time
}

// Settled tells whether the instance is where it was asked to be.
func (i Instance) Settled() bool {
	switch i.Desired {
	case WantActive:
		return i.State == Active || i.State == Failed
	case WantSuspended:
		return i.State == Suspended || i.State == Failed
	case WantDestroyed:
		return i.State == Destroyed
	}
	return true
}

// Event is one row of an instance's append-only history.
type Event struct {
	ID         int64
	InstanceID string
	Type       string
	At         time.Time
	Actor      string
	Reason     string
	FromState  State
	ToState    State
	// Payload is the webhook body of the event, made before it is written (the event
	// id, which the database assigns, is added at delivery). The store queues it, in the
	// event's transaction, for every webhook subscribed to Type; empty: none.
	Payload []byte
}

// InstanceFilter narrows a listing of instances.
type InstanceFilter struct {
	CustomerID string
	State      State
	After      string // cursor: the last id of the previous page
	Limit      int
}

// Route is what the edge router needs of an instance.
type Route struct {
	Slug     string
	ID       string
	State    State
	Upstream string
}

// Reserved slugs: they name our own hosts or invite phishing.
var reserved = map[string]bool{
	"www": true, "api": true, "admin": true, "mail": true, "app": true, "smtp": true, "imap": true, "pop": true,
	"ftp": true, "ns1": true, "ns2": true, "dns": true, "status": true, "billing": true, "support": true, "help": true,
	"docs": true, "blog": true, "static": true, "cdn": true, "assets": true, "auth": true, "login": true, "dashboard": true,
	"console": true, "control": true, "edge": true, "internal": true, "root": true, "test": true, "staging": true,
	"dev": true, "sproud": true, "sproudchat": true, "sproudstack": true, "security": true, "abuse": true, "postmaster": true,
	"webmail": true, "autoconfig": true, "autodiscover": true, "localhost": true,
}

// CreateRequest is what billing asks for.
type CreateRequest struct {
	CustomerID string
	Slug       string
	Plan       string
	AdminEmail string
	AdminName  string
	// RestoreFrom is a backup id: the new instance starts with that backup's data and
	// secret key (the backup's instance may be destroyed). Create checks it.
	// Omitted from JSON when empty: an idempotent request hashes as before.
	RestoreFrom string `json:",omitempty"`
}

// Validate checks a create request; plans is the set of plan names. Returns a
// *ValidationError naming every bad field.
func (r *CreateRequest) Validate(plans map[string]bool) error {
	r.Slug = strings.TrimSpace(r.Slug)
	r.CustomerID = strings.TrimSpace(r.CustomerID)
	r.AdminEmail = strings.ToLower(strings.TrimSpace(r.AdminEmail))
	r.AdminName = strings.TrimSpace(r.AdminName)
	f := map[string]string{}
	switch {
	case r.CustomerID == "":
		f["customer_id"] = "is required"
	case len(r.CustomerID) > 128:
		f["customer_id"] = "is longer than 128 characters"
	}
	switch {
	case r.Slug == "":
		f["slug"] = "is required"
	case !provisioning.ValidSlug(r.Slug):
		f["slug"] = "must be a DNS label: 3-63 lower-case letters, digits and inner hyphens"
	case reserved[r.Slug]:
		f["slug"] = "is reserved"
	}
	if r.Plan == "" {
		f["plan"] = "is required"
	} else if !plans[r.Plan] {
		f["plan"] = fmt.Sprintf("%q is not a plan (GET /v1/plans lists them)", r.Plan)
	}
	if a, err := mail.ParseAddress(r.AdminEmail); r.AdminEmail == "" {
		f["admin_email"] = "is required"
	} else if err != nil || a.Address != r.AdminEmail || a.Name != "" || !strings.Contains(r.AdminEmail[strings.LastIndexByte(r.AdminEmail, '@'):], ".") {
		f["admin_email"] = "is not a valid e-mail address"
	}
	r.RestoreFrom = strings.TrimSpace(r.RestoreFrom)
	if r.RestoreFrom != "" && !ValidBackupID(r.RestoreFrom) {
		f["restore_from"] = "is not a backup id"
	}
	if len(r.AdminName) > 100 {
		f["admin_name"] = "is longer than 100 characters"
	}
	return invalid(f)
}

// Backoff is how long to wait before attempt n+1 after n failures: 1 s doubling to 5 min.
func Backoff(n int) time.Duration {
	d := time.Second << min(max(n-1, 0), 9)
	return min(d, 5*time.Minute)
}

// Orphan is a runtime object set whose instance the store does not know, or knows as
// destroyed.
type Orphan struct {
	InstanceID string
	Slug       string
	Phase      string
	Reason     string
	// Unowned: the objects name no owning control plane (they predate owner labels):
	// they may be another control plane's, so they are reported, never removed.
	Unowned bool
	// Removed is what a collection removed: RemovedApp or RemovedAll; "" for nothing.
	Removed string
	// DataRemovableAt is when a collection with volumes may remove the orphan's data.
	DataRemovableAt *time.Time
}

// What a collection removed of an orphan.
const (
	RemovedApp = "app" // containers, network, secrets; the data stays
	RemovedAll = "all" // the data too
)
