package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sproudstack/sproudchat/instance/internal/config"
)

const usage = `usage: sproudchat [command]

commands:
  serve     run the instance (the default)
  migrate   bring the database schema up to date and exit
  backup    --to -|FILE [--known -|FILE]
            write a snapshot of the data (database and attachments) while the
            instance runs; --known lists SHA-256s of attachments to leave out
  restore   --from -|FILE | --commit | --rollback
            replace the data with a snapshot (the instance must be stopped); the
            replaced data is kept until --commit, and --rollback puts it back
  version   print the version

Configuration comes from SPROUDCHAT_* environment variables (see README.md); backup
and restore read only SPROUDCHAT_DATA_DIR and SPROUDCHAT_DATABASE_URL. "-" is
standard input or output; logs go to standard error.
`

// Main runs the sproudchat command line and returns its exit code: 0 on success, 1 on
// a runtime failure, 2 for bad usage or configuration (and, for restore, an invalid
// snapshot stream).
func Main(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], getenv, stdin, stdout, stderr)
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "sproudchat: %s takes no arguments\n\n%s", cmd, usage)
		return 2
	}
	switch cmd {
	case "version", "--version":
		fmt.Fprintf(stdout, "sproudchat %s\n", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve", "migrate":
	default:
		fmt.Fprintf(stderr, "sproudchat: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "sproudchat: configuration: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "sproudchat: %v\n", err)
		return 1
	}
	if cmd == "migrate" {
		return migrate(ctx, cfg, stdout, stderr)
	}
	a, err := New(ctx, cfg, Options{Out: stderr, LogOut: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "sproudchat: start: %v\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil { // Run closes the database last, whatever happens
		fmt.Fprintf(stderr, "sproudchat: %v\n", err)
		return 1
	}
	return 0
}

func migrate(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) int {
	db, err := openDB(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sproudchat: migrate: %v\n", err)
		return 1
	}
	defer db.Close()
	applied, err := db.MigrateWith(ctx, cfg.SecretKey)
	if err != nil {
		fmt.Fprintf(stderr, "sproudchat: migrate: %v\n", err)
		return 1
	}
	v, _ := db.CurrentVersion(ctx)
	fmt.Fprintf(stdout, "database (%s) at schema version %d; applied %d migration(s)\n", db.Dialect(), v, len(applied))
	return 0
}
