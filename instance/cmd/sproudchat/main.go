// Command sproudchat is one customer's instance: live chat, tickets, knowledge base and
// bookings, configured by SPROUDCHAT_* environment variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sproudstack/sproudchat/instance/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
