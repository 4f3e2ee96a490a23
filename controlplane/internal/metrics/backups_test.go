package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/metrics"
)

type counter struct{}

func (counter) CountByState(context.Context) (map[lifecycle.State]int, error) { return nil, nil }

type stats struct {
	stats []backups.Stat
	stale []backups.Stale
	err   error
}

func (s stats) Stats(context.Context) ([]backups.Stat, error)  { return s.stats, s.err }
func (s stats) Stale(context.Context) ([]backups.Stale, error) { return s.stale, s.err }

func scrape(t *testing.T, m *metrics.Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestBackupGauges: the four backup series, with their names and labels; a drill
// result only once there was a drill.
func TestBackupGauges(t *testing.T) {
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	yes, no := true, false
	m := metrics.New(counter{})
	m.WatchBackups(stats{
		stats: []backups.Stat{
			{InstanceID: "in-a", Slug: "alpha", LastSuccess: &at, StoredBytes: 52428800, LastDrillOK: &yes},
			{InstanceID: "in-b", Slug: "bravo", LastSuccess: &at, StoredBytes: 10, LastDrillOK: &no},
			{InstanceID: "in-c", Slug: "charlie"},
		},
		stale: []backups.Stale{{InstanceID: "in-c", Slug: "charlie"}},
	})
	_, body := scrape(t, m)
	for _, want := range []string{
		`sproudctl_backup_last_success_timestamp_seconds{instance="in-a"} 1.7935884e+09`,
		`sproudctl_backup_last_success_timestamp_seconds{instance="in-c"} 0`,
		`sproudctl_backup_stored_bytes{instance="in-a"} 5.24288e+07`,
		`sproudctl_backup_stored_bytes{instance="in-c"} 0`,
		`sproudctl_backup_drill_success{instance="in-a"} 1`,
		`sproudctl_backup_drill_success{instance="in-b"} 0`,
		`sproudctl_backup_stale_instances 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `sproudctl_backup_drill_success{instance="in-c"}`) {
		t.Error("a drill result for an instance never drilled")
	}
}

// TestBackupGaugesWhenTheStoreFails: a failed read is a failed scrape, never a zero
// that looks like a healthy "nothing stale".
func TestBackupGaugesWhenTheStoreFails(t *testing.T) {
	m := metrics.New(counter{})
	m.WatchBackups(stats{err: errors.New("database is gone")})
	code, body := scrape(t, m)
	if code != 500 || strings.Contains(body, "sproudctl_backup_stale_instances 0") {
		t.Fatalf("scrape with a failing store: %d\n%s", code, body)
	}
}
