// Command sproudctl runs and operates the sproudchat control plane.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sproudstack/sproudchat/controlplane/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
