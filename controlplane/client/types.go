// Package client holds the provisioning API's wire types and a Go client for it; the
// CLI and the tests use it.
package client

import (
	"time"

	"github.com/sproudstack/sproudchat/platform/problem"
)

// Instance is an instance on the wire.
type Instance struct {
	ID           string     `json:"id"`
	CustomerID   string     `json:"customer_id"`
	Slug         string     `json:"slug"`
	Plan         string     `json:"plan"`
	State        string     `json:"state"`
	DesiredState string     `json:"desired_state"`
	URL          string     `json:"url"`
	LastError    string     `json:"last_error,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	SuspendedAt  *time.Time `json:"suspended_at"`
	PurgeAfter   *time.Time `json:"purge_after"`
	DestroyedAt  *time.Time `json:"destroyed_at,omitempty"`
	// SetupURL is in the create response only: the one-time link for the first admin.
	SetupURL string `json:"setup_url,omitempty"`
}

// CreateInstance is the body of POST /v1/instances.
type CreateInstance struct {
	CustomerID string `json:"customer_id"`
	Slug       string `json:"slug"`
	Plan       string `json:"plan"`
	AdminEmail string `json:"admin_email"`
	AdminName  string `json:"admin_name,omitempty"`
	// RestoreFrom, when set, is a completed backup (of any instance, a destroyed one
	// included) whose data and secret key the new instance starts with.
	RestoreFrom string `json:"restore_from,omitempty"`
}

// StateChange is the optional body of suspend, resume and destroy.
type StateChange struct {
	Reason string `json:"reason,omitempty"`
}

// InstanceList is a page of instances.
type InstanceList struct {
	Items      []Instance `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// Event is one entry of an instance's history.
type Event struct {
	ID         int64     `json:"id"`
	InstanceID string    `json:"instance_id"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	FromState  string    `json:"from_state,omitempty"`
	ToState    string    `json:"to_state,omitempty"`
}

// EventList is an instance's history.
type EventList struct {
	Items []Event `json:"items"`
}

// Plan is a plan on the wire.
type Plan struct {
	Name                 string  `json:"name"`
	DisplayName          string  `json:"display_name"`
	Database             string  `json:"database"`
	MemoryBytes          int64   `json:"memory_bytes"`
	CPUs                 float64 `json:"cpus"`
	AttachmentQuotaBytes int64   `json:"attachment_quota_bytes"`
	ReadOnlyDays         int     `json:"read_only_days"`
}

// PlanList lists the plans.
type PlanList struct {
	Items []Plan `json:"items"`
}

// Token is an API token on the wire; Token is set only when it is created.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Token      string     `json:"token,omitempty"`
}

// CreateToken is the body of POST /v1/tokens.
type CreateToken struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// TokenList lists tokens.
type TokenList struct {
	Items []Token `json:"items"`
}

// Webhook is a billing subscription; Secret is set only when it is created.
type Webhook struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret,omitempty"`
}

// CreateWebhook is the body of POST /v1/webhooks.
type CreateWebhook struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// WebhookList lists subscriptions.
type WebhookList struct {
	Items []Webhook `json:"items"`
}

// Delivery is one attempt series of an event to a webhook.
type Delivery struct {
	ID           int64      `json:"id"`
	WebhookID    int64      `json:"webhook_id"`
	EventID      int64      `json:"event_id"`
	Status       string     `json:"status"`
	Attempts     int        `json:"attempts"`
	LastError    string     `json:"last_error,omitempty"`
	ResponseCode int        `json:"response_code,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
	NextAttempt  time.Time  `json:"next_attempt_at"`
}

// DeliveryList lists deliveries.
type DeliveryList struct {
	Items []Delivery `json:"items"`
}

// Logs is the tail of an instance's app log.
type Logs struct {
	Lines string `json:"lines"`
}

// Orphan is a runtime object set whose instance the store does not know, or knows as
// destroyed.
type Orphan struct {
	InstanceID string `json:"instance_id"`
	Slug       string `json:"slug"`
	Phase      string `json:"phase"`
	Reason     string `json:"reason"`
	// Unowned: the objects name no owning control plane (they predate owner labels), so
	// they may be another control plane's on the same engine: gc reports them and
	// leaves them alone.
	Unowned bool `json:"unowned,omitempty"`
	// Removed is what POST /v1/gc removed: RemovedApp or RemovedAll; empty for none.
	Removed string `json:"removed,omitempty"`
	// DataRemovableAt is when gc with volumes may remove the orphan's data: the grace
	// period after the first gc that removed its app.
	DataRemovableAt *time.Time `json:"data_removable_at,omitempty"`
}

// What gc removed of an orphan.
const (
	RemovedApp = "app" // containers, network, secrets; the data stays
	RemovedAll = "all" // the data too
)

// CollectOrphans is the optional body of POST /v1/gc.
type CollectOrphans struct {
	// Volumes: remove the data of orphans whose grace period has passed, too.
	Volumes bool `json:"volumes,omitempty"`
}

// OrphanList lists orphans.
type OrphanList struct {
	Items []Orphan `json:"items"`
}

// WebhookPayload is what a subscriber receives for an event.
type WebhookPayload struct {
	ID       int64    `json:"id"`
	Type     string   `json:"type"`
	At       string   `json:"at"`
	Reason   string   `json:"reason,omitempty"`
	Instance Instance `json:"instance"`
}

// Problem is an RFC 9457 error, the body of every refused API request; as an error it
// reads "title: detail; field message".
type Problem = problem.Problem
