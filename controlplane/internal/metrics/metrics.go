// Package metrics is the control plane's Prometheus instrumentation: instances by state
// (read from the store at scrape time), transition durations, reconcile errors, and
// each instance's backups (WatchBackups).
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// Counter reports instances by state.
type Counter interface {
	CountByState(ctx context.Context) (map[lifecycle.State]int, error)
}

// Metrics holds the instruments.
type Metrics struct {
	reg         *prometheus.Registry
	transitions *prometheus.HistogramVec
	errors      *prometheus.CounterVec
}

// New registers the instruments.
func New(counter Counter) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		transitions: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sproudctl_transition_duration_seconds", Help: "Time from starting a transition to reaching the state.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120},
		}, []string{"from", "to"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sproudctl_reconcile_errors_total", Help: "Failed attempts to converge an instance.",
		}, []string{"desired_state"}),
	}
	m.reg.MustRegister(m.transitions, m.errors, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{counter: counter, desc: prometheus.NewDesc("sproudctl_instances", "Instances by state.", []string{"state"}, nil)})
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Transition records a completed transition.
func (m *Metrics) Transition(from, to lifecycle.State, took time.Duration) {
	m.transitions.WithLabelValues(string(from), string(to)).Observe(took.Seconds())
}

// Error counts a failed attempt.
func (m *Metrics) Error(desired lifecycle.Desired) { m.errors.WithLabelValues(string(desired)).Inc() }

type stateCollector struct {
	counter Counter
	desc    *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.counter.CountByState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range lifecycle.States {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
