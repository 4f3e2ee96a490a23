package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sproudstack/sproudchat/instance/internal/backup"
	"github.com/sproudstack/sproudchat/instance/internal/config"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// toolOptions reads where the data is; a bad variable is exit 2.
func toolOptions(getenv config.Getenv, stderr io.Writer) (backup.Options, int) {
	cfg, err := config.LoadData(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sproudchat: configuration: %v\n", err)
		return backup.Options{}, 2
	}
	return backup.Options{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL,
		Logger: slog.New(slog.NewJSONHandler(stderr, nil))}, 0
}

// parseFlags parses a tool's flags; bad usage prints the reason and the usage.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "sproudchat: %s: %v\n\n%s", fs.Name(), err, usage)
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sproudchat: %s: unexpected argument %q\n\n%s", fs.Name(), fs.Arg(0), usage)
		return false
	}
	return true
}

func badUsage(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "sproudchat: %s: %s\n\n%s", cmd, msg, usage)
	return 2
}

func runBackup(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	to := fs.String("to", "", "")
	knownFrom := fs.String("known", "", "")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *to == "" {
		return badUsage(stderr, "backup", "--to is required (- for standard output)")
	}
	o, code := toolOptions(getenv, stderr)
	if code != 0 {
		return code
	}
	known := map[string]bool{}
	if *knownFrom != "" {
		r, closeIn, err := input(*knownFrom, stdin)
		if err != nil {
			return badUsage(stderr, "backup", err.Error())
		}
		known, err = backup.ReadKnown(r)
		closeIn()
		if err != nil {
			return badUsage(stderr, "backup", err.Error())
		}
	}
	if *to == "-" {
		if _, err := backup.Backup(ctx, o, known, stdout); err != nil {
			fmt.Fprintf(stderr, "sproudchat: backup: %v\n", err)
			return 1
		}
		return 0
	}
	if err := writeAtomically(*to, func(w io.Writer) error {
		_, err := backup.Backup(ctx, o, known, w)
		return err
	}); err != nil {
		fmt.Fprintf(stderr, "sproudchat: backup: %v\n", err)
		return 1
	}
	return 0
}

func runRestore(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "")
	commit := fs.Bool("commit", false, "")
	rollback := fs.Bool("rollback", false, "")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	chosen := 0
	for _, b := range []bool{*from != "", *commit, *rollback} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return badUsage(stderr, "restore", "give exactly one of --from, --commit and --rollback")
	}
	o, code := toolOptions(getenv, stderr)
	if code != 0 {
		return code
	}
	enc := json.NewEncoder(stdout)
	switch {
	case *commit:
		done, err := backup.Commit(ctx, o)
		if err != nil {
			fmt.Fprintf(stderr, "sproudchat: restore --commit: %v\n", err)
			return 1
		}
		enc.Encode(map[string]bool{"committed": done})
	case *rollback:
		done, err := backup.Rollback(ctx, o)
		if err != nil {
			fmt.Fprintf(stderr, "sproudchat: restore --rollback: %v\n", err)
			return 1
		}
		enc.Encode(map[string]bool{"rolled_back": done})
	default:
		r, closeIn, err := input(*from, stdin)
		if err != nil {
			return badUsage(stderr, "restore", err.Error())
		}
		defer closeIn()
		res, err := backup.Restore(ctx, o, r)
		if err != nil {
			fmt.Fprintf(stderr, "sproudchat: restore: %v\n", err)
			if errors.Is(err, snapshot.ErrInvalid) {
				return 2
			}
			return 1
		}
		enc.Encode(res)
	}
	return 0
}

// input opens name, or gives stdin for "-".
func input(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", name, errors.Unwrap(err))
	}
	return f, func() { f.Close() }, nil
}

// writeAtomically writes a file through write: a temporary file beside it, synced,
// then renamed, so a failed backup leaves no file that looks whole.
func writeAtomically(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename this is a no-op
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
