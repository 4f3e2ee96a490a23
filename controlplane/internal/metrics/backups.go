package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
)

// BackupStats reports the backups (backups.Service), read at scrape time.
type BackupStats interface {
	Stats(ctx context.Context) ([]backups.Stat, error)
	Stale(ctx context.Context) ([]backups.Stale, error)
}

// WatchBackups adds the backup gauges, read from b at each scrape:
// sproudctl_backup_last_success_timestamp_seconds{instance} (0: never),
// sproudctl_backup_stored_bytes{instance}, sproudctl_backup_drill_success{instance}
// (1 passed, 0 failed; absent before the first drill) and
// sproudctl_backup_stale_instances.
func (m *Metrics) WatchBackups(b BackupStats) {
	m.reg.MustRegister(&backupCollector{stats: b,
		last: prometheus.NewDesc("sproudctl_backup_last_success_timestamp_seconds",
			"When the instance's newest completed backup finished (Unix seconds; 0 for never).", []string{"instance"}, nil),
		stored: prometheus.NewDesc("sproudctl_backup_stored_bytes", "Bytes the instance's backups take at the target.", []string{"instance"}, nil),
		drill: prometheus.NewDesc("sproudctl_backup_drill_success",
			"Whether the instance's newest restore drill passed (1) or failed (0).", []string{"instance"}, nil),
		stale: prometheus.NewDesc("sproudctl_backup_stale_instances", "Instances without a successful backup for 36 hours.", nil, nil),
	})
}

type backupCollector struct {
	stats                      BackupStats
	last, stored, drill, stale *prometheus.Desc
}

func (c *backupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.last
	ch <- c.stored
	ch <- c.drill
	ch <- c.stale
}

func (c *backupCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if stats, err := c.stats.Stats(ctx); err != nil {
		for _, d := range []*prometheus.Desc{c.last, c.stored, c.drill} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
	} else {
		for _, s := range stats {
			last := 0.0
			if s.LastSuccess != nil {
				last = float64(s.LastSuccess.UnixNano()) / 1e9
			}
			ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, last, s.InstanceID)
			ch <- prometheus.MustNewConstMetric(c.stored, prometheus.GaugeValue, float64(s.StoredBytes), s.InstanceID)
			if s.LastDrillOK != nil {
				ok := 0.0
				if *s.LastDrillOK {
					ok = 1
				}
				ch <- prometheus.MustNewConstMetric(c.drill, prometheus.GaugeValue, ok, s.InstanceID)
			}
		}
	}
	stale, err := c.stats.Stale(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.stale, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, float64(len(stale)))
}
