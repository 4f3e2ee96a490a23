package connlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/testkit/logbuf"
)

func TestKeyCountsIPv6Per64(t *testing.T) {
	key := func(s string) netip.Prefix { return Key(netip.MustParseAddr(s)) }
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"203.0.113.7", "::ffff:203.0.113.7", true},
		{"fe80::1%eth0", "fe80::2", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"203.0.113.7", "203.0.113.8", false},
	} {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			if a, b := key(tc.a), key(tc.b); (a == b) != tc.same {
				t.Fatalf("keys %s and %s; want the same: %v", a, b, tc.same)
			}
		})
	}
}

// TestRefusalsAreLoggedOncePerInterval: a flood of refused connections is one log line
// per LogEvery, which counts them.
func TestRefusalsAreLoggedOncePerInterval(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	ln := New(inner, Options{Name: "test", PerPeer: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Clock: clk})
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	defer (<-accepted).Close()
	refuse := func(n int) {
		t.Helper()
		for range n {
			c := dial()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a connection past the cap was not closed: %v", err)
			}
		}
	}
	refuse(5)
	if n := logs.Lines(); n != 1 {
		t.Fatalf("5 refusals within %s: %d log lines, want 1:\n%s", LogEvery, n, logs.String())
	}
	clk.Advance(LogEvery)
	refuse(1)
	if n := logs.Lines(); n != 2 || !strings.Contains(logs.String(), `"refused":5,`) {
		t.Fatalf("want a second line counting the 5 refusals since the first:\n%s", logs.String())
	}
}
