// Command sproudchat is one customer's instance: live chat, tickets, knowledge base and
// bookings, configured by SPROUDCHAT_* environment variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/sproudstack/sproudchat/instance/internal/app"
)

func main() {
	// The Go runtime learns the container's memory limit (cgroup v1 or v2), keeping
	// 10% for what it does not count; GOMEMLIMIT from the environment wins. Without a
	// limit nothing changes. The password-hash gate is sized from the result.
	_, _ = memlimit.Set(memlimit.WithRatio(0.9))
	// The first SIGTERM or Ctrl-C starts the ordered shutdown (app.Run); from then on
	// the signals have their default effect again, so a second one ends the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := app.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
