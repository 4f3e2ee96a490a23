// Package wire turns the control plane's domain values into their API form (the types
// of package client): the API's responses and the webhook payloads are made here, so
// both show an instance the same way.
package wire

import (
	"encoding/json"
	"math"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// Instance is i on the wire; url is its public address.
func Instance(i lifecycle.Instance, url string) client.Instance {
	return client.Instance{ID: i.ID, CustomerID: i.CustomerID, Slug: i.Slug, Plan: i.Plan, State: string(i.State),
		DesiredState: string(i.Desired), URL: url, LastError: i.LastError, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		SuspendedAt: i.SuspendedAt, PurgeAfter: i.PurgeAfter, DestroyedAt: i.DestroyedAt}
}

// Event is e on the wire.
func Event(e lifecycle.Event) client.Event {
	return client.Event{ID: e.ID, InstanceID: e.InstanceID, Type: e.Type, At: e.At, Actor: e.Actor, Reason: e.Reason,
		FromState: string(e.FromState), ToState: string(e.ToState)}
}

// Token is t on the wire, without its secret.
func Token(t lifecycle.Token) client.Token {
	return client.Token{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// Webhook is w on the wire, without its secret.
func Webhook(w lifecycle.Subscription) client.Webhook {
	return client.Webhook{ID: w.ID, URL: w.URL, Events: w.Events, CreatedAt: w.CreatedAt}
}

// Delivery is d on the wire, without its payload.
func Delivery(d lifecycle.Delivery) client.Delivery {
	return client.Delivery{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, Status: string(d.Status), Attempts: d.Attempts,
		LastError: d.LastError, ResponseCode: d.ResponseCode, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, NextAttempt: d.NextAttempt}
}

// Plan is p on the wire.
func Plan(p template.Plan) client.Plan {
	return client.Plan{Name: p.Name, DisplayName: p.DisplayName, Database: string(p.Database.Kind),
		MemoryBytes: p.App.Resources.MemoryBytes, CPUs: math.Round(float64(p.App.Resources.MilliCPUs)) / 1000,
		AttachmentQuotaBytes: p.App.AttachmentQuotaBytes, ReadOnlyDays: p.Lifecycle.ReadOnlyDays}
}

// Payload is the webhook body of ev about inst (at url), without the event's id, which
// the database assigns when the event is written: WithEventID adds it at delivery. It
// carries neither the admin's contact nor any secret.
func Payload(ev lifecycle.Event, inst lifecycle.Instance, url string) []byte {
	b, _ := json.Marshal(client.WebhookPayload{Type: ev.Type, At: ev.At.Format(time.RFC3339Nano), Reason: ev.Reason, Instance: Instance(inst, url)})
	return b
}

// WithEventID returns payload with its id set to id. Returns an error for a payload
// that is not a client.WebhookPayload.
func WithEventID(payload []byte, id int64) ([]byte, error) {
	var p client.WebhookPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	p.ID = id
	return json.Marshal(p)
}

// Orphan is o on the wire.
func Orphan(o lifecycle.Orphan) client.Orphan {
	return client.Orphan{InstanceID: o.InstanceID, Slug: o.Slug, Phase: o.Phase, Reason: o.Reason, Unowned: o.Unowned,
		Removed: o.Removed, DataRemovableAt: o.DataRemovableAt}
}

// Backup is b on the wire.
func Backup(b lifecycle.Backup) client.Backup {
	return client.Backup{ID: b.ID, InstanceID: b.InstanceID, State: string(b.State), Trigger: b.Trigger, CreatedAt: b.CreatedAt,
		CompletedAt: b.CompletedAt, ExpiresAt: b.ExpiresAt, SizeBytes: b.SizeBytes, AddedBytes: b.AddedBytes, LastError: b.LastError}
}

// Drill is d on the wire.
func Drill(d lifecycle.Drill) client.Drill {
	return client.Drill{ID: d.ID, InstanceID: d.InstanceID, BackupID: d.BackupID, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt,
		OK: d.OK, Error: d.Error, Tables: d.Tables, Rows: d.Rows, Blobs: d.Blobs}
}
