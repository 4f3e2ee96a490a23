package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/config"
)

// TestRunBoundsTheDrain: a request that never finishes cannot hold the shutdown up. Past
// DrainTimeout, Run closes what is left, still stops every worker and closes the
// database last, and returns an error saying the drain was cut short.
func TestRunBoundsTheDrain(t *testing.T) {
	env := map[string]string{"SPROUDCHAT_DATA_DIR": filepath.Join(t.TempDir(), "data"), "SPROUDCHAT_SECRET_KEY": testKey}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	a, err := New(context.Background(), cfg, Options{Listener: ln, LogOut: lockedWriter{&mu, &logs}, DrainTimeout: time.Nanosecond,
		Hash: accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()

	// A request whose body never comes.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n")
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("request before its body: %v %v, want 100 Continue", res, err)
	}

	cancel()
	if err := <-ran; !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "drain") {
		t.Fatalf("Run with a request stuck: %v, want the drain cut short", err)
	}
	mu.Lock()
	lines := logEntries(t, logs.String())
	mu.Unlock()
	var stopped []string
	for _, e := range lines {
		if e["msg"] == "worker stopped" {
			stopped = append(stopped, e["worker"].(string))
		}
		if e["msg"] == "database closed" {
			if len(stopped) != 6 {
				t.Fatalf("database closed after only %v stopped", stopped)
			}
			return
		}
	}
	t.Fatalf("no \"database closed\" in the log; stopped: %v", stopped)
}
