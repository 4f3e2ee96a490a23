package client

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Backup is one backup of an instance on the wire.
type Backup struct {
	ID          string     `json:"id"`
	InstanceID  string     `json:"instance_id"`
	State       string     `json:"state"`   // pending, running, completed, failed
	Trigger     string     `json:"trigger"` // schedule, manual, final
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	// SizeBytes is what the backup's objects take at the target, shared ones included;
	// AddedBytes what this backup stored that was not there before.
	SizeBytes  int64  `json:"size_bytes"`
	AddedBytes int64  `json:"added_bytes"`
	LastError  string `json:"last_error,omitempty"`
}

// BackupList lists an instance's backups, newest first.
type BackupList struct {
	Items []Backup `json:"items"`
}

// Restore is the body of POST /v1/instances/{id}/restore.
type Restore struct {
	BackupID string `json:"backup_id"`
}

// Purged is the answer to DELETE /v1/instances/{id}/backups.
type Purged struct {
	InstanceID string `json:"instance_id"`
	Deleted    int    `json:"deleted"` // backups erased
}

// Drill is one automatic restore rehearsal.
type Drill struct {
	ID         string     `json:"id"`
	InstanceID string     `json:"instance_id"`
	BackupID   string     `json:"backup_id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	OK         bool       `json:"ok"`
	Error      string     `json:"error,omitempty"`
	Tables     int        `json:"tables"`
	Rows       int64      `json:"rows"`
	Blobs      int        `json:"blobs"`
}

// StartDrill is the body of POST /v1/backups/drills.
type StartDrill struct {
	InstanceID string `json:"instance_id"`
}

// DrillList lists drills, newest first.
type DrillList struct {
	Items []Drill `json:"items"`
}

// Stale is an instance without a successful backup for longer than the control plane
// allows (36 h).
type Stale struct {
	InstanceID  string     `json:"instance_id"`
	Slug        string     `json:"slug"`
	LastSuccess *time.Time `json:"last_success"` // null: never
}

// StaleList lists stale instances.
type StaleList struct {
	Items []Stale `json:"items"`
}

func backupsPath(id string) string { return "/v1/instances/" + url.PathEscape(id) + "/backups" }

// CreateBackup asks for a backup of an instance now; it runs in the background.
func (c *Client) CreateBackup(ctx context.Context, instanceID string) (Backup, error) {
	var out Backup
	return out, c.do(ctx, "POST", backupsPath(instanceID), nil, nil, &out)
}

// Backups lists an instance's backups.
func (c *Client) Backups(ctx context.Context, instanceID string) (BackupList, error) {
	var out BackupList
	return out, c.do(ctx, "GET", backupsPath(instanceID), nil, nil, &out)
}

// Restore replaces an instance's data with one of its backups (admin scope); the
// instance is restoring until it is done.
func (c *Client) Restore(ctx context.Context, instanceID, backupID string) (Instance, error) {
	return c.change(ctx, "POST", "/v1/instances/"+url.PathEscape(instanceID)+"/restore", Restore{BackupID: backupID})
}

// PurgeBackups erases every backup of an instance (admin scope).
func (c *Client) PurgeBackups(ctx context.Context, instanceID string) (Purged, error) {
	var out Purged
	return out, c.do(ctx, "DELETE", backupsPath(instanceID), nil, nil, &out)
}

// Drills lists recent restore drills; instanceID "" means every instance's.
func (c *Client) Drills(ctx context.Context, instanceID string, limit int) (DrillList, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if instanceID != "" {
		q.Set("instance_id", instanceID)
	}
	var out DrillList
	return out, c.do(ctx, "GET", "/v1/backups/drills?"+q.Encode(), nil, nil, &out)
}

// StartDrill starts a restore drill of an instance's newest completed backup now
// (admin scope); Drills shows its result when it finished.
func (c *Client) StartDrill(ctx context.Context, instanceID string) (Drill, error) {
	var out Drill
	return out, c.do(ctx, "POST", "/v1/backups/drills", nil, StartDrill{InstanceID: instanceID}, &out)
}

// StaleBackups lists the instances without a recent successful backup.
func (c *Client) StaleBackups(ctx context.Context) (StaleList, error) {
	var out StaleList
	return out, c.do(ctx, "GET", "/v1/backups/stale", nil, nil, &out)
}
