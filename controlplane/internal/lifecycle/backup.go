package lifecycle

import (
	"errors"
	"regexp"
	"time"
)

// Restoring: the instance's data is being replaced from a backup; its app is stopped.
// It returns to the state it came from (RestoreFrom records it).
const Restoring State = "restoring"

// Backup event types (webhook subscribers may ask for them).
const (
	EventBackupCompleted = "backup.completed"
	EventBackupFailed    = "backup.failed"
	EventRestored        = "instance.restored"
	EventRestoreFailed   = "instance.restore_failed" // the previous data was put back
	EventBackupStale     = "backup.stale"            // no successful backup for StaleAfter
	EventDrillCompleted  = "backup.drill_completed"  // Reason says passed or failed and why
)

// MaxRetentionDays bounds every plan's backup_retention_days (the privacy notice's
// promise: at most 90 days in rotation, then deleted).
const MaxRetentionDays = 90

// StaleAfter is how long an instance may go without a successful backup before it is
// listed as stale and an event is raised.
const StaleAfter = 36 * time.Hour

// BackupState is where a backup is.
type BackupState string

// Backup states. Only completed backups can be restored; a backup is listed as
// completed only once its manifest is stored.
const (
	BackupPending   BackupState = "pending"
	BackupRunning   BackupState = "running"
	BackupCompleted BackupState = "completed"
	BackupFailed    BackupState = "failed"
)

// Backup triggers: why a backup was taken.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerFinal    = "final" // before a purge destroys the instance
)

// Backup is one backup of an instance as the control plane records it.
type Backup struct {
	ID          string
	InstanceID  string
	State       BackupState
	Trigger     string
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	ExpiresAt   time.Time
	// SizeBytes is what the backup's objects take at the target (shared ones included);
	// AddedBytes is what this backup uploaded that was not stored before.
	SizeBytes   int64
	AddedBytes  int64
	Attempts    int
	NextAttempt time.Time
	LastError   string
}

// Drill is one automatic restore rehearsal: the newest backup of an instance restored
// into a scratch instance, checked against its manifest, thrown away.
type Drill struct {
	ID         string
	InstanceID string
	BackupID   string
	ScratchID  string // the scratch instance's id (and slug): never in the instances table
	StartedAt  time.Time
	FinishedAt *time.Time
	OK         bool
	Error      string
	Tables     int   // tables whose row counts were compared
	Rows       int64 // rows compared
	Blobs      int   // attachment bodies whose hashes were compared
}

// EventBackupsPurged: every backup of an instance was erased (a customer's request).
const EventBackupsPurged = "backup.purged"

// BackupSummary is what the store sums up of one instance's backups.
type BackupSummary struct {
	InstanceID  string
	Slug        string
	State       State
	CreatedAt   time.Time  // the instance's
	StaleAt     *time.Time // when backup.stale was raised; nil since the last success
	LastSuccess *time.Time
	StoredBytes int64
	LastDrillOK *bool
	LastDrillAt *time.Time // when its newest drill started
}

// ErrRestoreFailed: a restore did not complete and the instance's previous data is
// back and running. Retrying the same restore would fail the same way.
var ErrRestoreFailed = errors.New("restore failed; the previous data is back")

// DrillTimeout bounds one restore drill. A drill unfinished for longer was interrupted:
// its scratch instance is destroyed and garbage collection may take what remains.
const DrillTimeout = time.Hour

// DrillEvery is how often a round of restore drills runs.
const DrillEvery = 7 * 24 * time.Hour

// ValidBackupID tells whether s has the shape of a backup id.
func ValidBackupID(s string) bool { return backupIDPattern.MatchString(s) }

var backupIDPattern = regexp.MustCompile(`^bk[0-9a-f]{19}$`)
