package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/logbuf"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// TestRunStopsEveryPart runs the control plane in this process and ends its context:
// Run returns nil, every worker said it stopped, the database closed last, and
// (TestMain) no goroutine of it is left.
func TestRunStopsEveryPart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &logbuf.Buffer{}
	ready := make(chan string, 1)
	cfg := Config{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", BaseDomain: "sproud.test", DataDir: t.TempDir(),
		Templates: "../../../templates", SecretKey: bytes.Repeat([]byte{1}, 32), LeaseTTL: 30 * time.Second, AppVersion: "test"}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, cfg, Options{Runtime: runtimetest.NewFake(), Log: log, Ready: func(api, _ string) { ready <- api }})
	}()
	var api string
	select {
	case api = <-ready:
	case err := <-errc:
		t.Fatalf("Run: %v\n%s", err, log)
	}
	res, err := http.Get("http://" + api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after cancel: %v\n%s", err, log)
		}
	case <-time.After(DefaultShutdownTimeout):
		t.Fatalf("Run still running %s after cancel:\n%s", DefaultShutdownTimeout, log)
	}
	var stopped []string
	last := ""
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var l struct{ Msg, Worker string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == "worker stopped" {
			stopped = append(stopped, l.Worker)
		}
		last = l.Msg
	}
	if len(stopped) != 4 || last != "database closed" {
		t.Fatalf("workers stopped: %v; last log line %q, want four workers and \"database closed\":\n%s", stopped, last, log)
	}
}
