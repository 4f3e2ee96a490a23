package backup

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// PostgreSQL's own tools (pg_dump, pg_restore, psql from the postgresql-client
// package) do the work; they are found on PATH.

// pgCommand prepares one of PostgreSQL's tools for the database at rawURL: the
// password goes in PGPASSWORD, never on the command line (which other users can read).
func pgCommand(ctx context.Context, rawURL, tool string, args ...string) (*exec.Cmd, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("%s is not on PATH (it comes with PostgreSQL's client package): %w", tool, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("the database URL does not parse")
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"--dbname=" + u.String()}, args...)...)
	if tool == "pg_restore" {
		// pg_restore reads --dbname only to restore into a database: here it writes a
		// script, so the flag goes.
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Env = env
	return cmd, nil
}

// runTool runs cmd, returning its standard error (its first 2 KiB) in the error.
func runTool(cmd *exec.Cmd) error {
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 2048 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// openPostgres opens the instance's database through the store's driver.
func openPostgres(ctx context.Context, o Options) (*sql.DB, func(), error) {
	db, err := store.Open(ctx, o.DatabaseURL, "")
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.Gorm().DB()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return sqlDB, func() { db.Close() }, nil
}

const listTablesPostgres = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"

// dumpPostgres dumps the database into dst (pg_dump's custom format) and counts its
// rows, both in one snapshot: a REPEATABLE READ transaction exports its snapshot and
// pg_dump reads through it (--snapshot) while the transaction stays open.
func dumpPostgres(ctx context.Context, o Options, dst string) (int64, map[string]int64, error) {
	db, done, err := openPostgres(ctx, o)
	if err != nil {
		return 0, nil, err
	}
	defer done()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return 0, nil, fmt.Errorf("begin snapshot: %w", err)
	}
	defer tx.Rollback()
	var snap string
	if err := tx.QueryRowContext(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		return 0, nil, fmt.Errorf("export snapshot: %w", err)
	}
	v, rows, err := countAll(ctx, tx, listTablesPostgres)
	if err != nil {
		return 0, nil, err
	}
	cmd, err := pgCommand(ctx, o.DatabaseURL, "pg_dump", "--format=custom", "--snapshot="+snap, "--file="+dst)
	if err != nil {
		return 0, nil, err
	}
	if err := runTool(cmd); err != nil {
		return 0, nil, fmt.Errorf("dump database: %w", err)
	}
	return v, rows, tx.Commit()
}

// checkDump checks the staged dump before anything changes: pg_restore reads its table
// of contents, and the schema version recorded in its schema_migrations data is the
// header's.
func checkDump(ctx context.Context, o Options, h snapshot.Header, path string) error {
	list, err := pgCommand(ctx, o.DatabaseURL, "pg_restore", "--list", path)
	if err != nil {
		return err
	}
	list.Stdout = io.Discard
	if err := runTool(list); err != nil {
		return fmt.Errorf("%w: the database dump does not read: %v", ErrRefused, err)
	}
	data, err := pgCommand(ctx, o.DatabaseURL, "pg_restore", "--data-only", "--table=schema_migrations", "--file=-", path)
	if err != nil {
		return err
	}
	var script bytes.Buffer
	data.Stdout = &script
	if err := runTool(data); err != nil {
		return fmt.Errorf("%w: the database dump does not read: %v", ErrRefused, err)
	}
	v, err := copyMaxVersion(&script)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if v != h.SchemaVersion {
		return fmt.Errorf("%w: the database is at schema version %d, its header says %d", ErrRefused, v, h.SchemaVersion)
	}
	return nil
}

// copyMaxVersion reads the highest first column of the COPY data of a pg_restore
// script of schema_migrations.
func copyMaxVersion(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var highest int64
	inCopy := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "COPY ") && strings.Contains(line, "schema_migrations"):
			inCopy = true
		case inCopy && line == `\.`:
			inCopy = false
		case inCopy:
			v, err := strconv.ParseInt(strings.SplitN(line, "\t", 2)[0], 10, 64)
			if err != nil {
				return 0, errors.New("the dump's schema_migrations holds a version that is not a number")
			}
			highest = max(highest, v)
		}
	}
	return highest, sc.Err()
}

// swapPostgres keeps a dump of the current database as previous.pgdump (before the
// journal: while the journal exists the dump is whole), swaps the attachments as on
// SQLite, replaces the database in one transaction and checks its counts; a mismatch
// rolls everything back.
func (o Options) swapPostgres(ctx context.Context, h snapshot.Header, stage string) error {
	prev := o.path(restoreDir, prevDump)
	cmd, err := pgCommand(ctx, o.DatabaseURL, "pg_dump", "--format=custom", "--file="+prev+".tmp")
	if err != nil {
		return err
	}
	if err := runTool(cmd); err != nil {
		return fmt.Errorf("keep the current database: %w", err)
	}
	if err := syncFile(prev + ".tmp"); err != nil {
		return err
	}
	if err := os.Rename(prev+".tmp", prev); err != nil {
		return err
	}
	j, err := o.beginSwap()
	if err != nil {
		return err
	}
	if err := o.moveNew(stage, []string{blobsDir}); err != nil {
		return err
	}
	if err := o.step("database"); err != nil {
		return err
	}
	err = pgRestore(ctx, o, filepath.Join(stage, snapshot.PgDumpName))
	if err != nil {
		err = fmt.Errorf("%w: the database dump does not restore: %v", ErrRefused, err)
	} else {
		err = o.checkRestored(ctx, h)
	}
	if err != nil {
		// The new database did not go in whole, or is not the header's: the previous
		// data goes back before the error is reported.
		if _, rerr := Rollback(ctx, o); rerr != nil {
			return fmt.Errorf("%w; and rolling back failed: %v", err, rerr)
		}
		return err
	}
	return o.endSwap(j, stage)
}

func (o Options) checkRestored(ctx context.Context, h snapshot.Header) error {
	db, done, err := openPostgres(ctx, o)
	if err != nil {
		return err
	}
	defer done()
	v, rows, err := countAll(ctx, db, listTablesPostgres)
	if err != nil {
		return err
	}
	return compareCounts(h, v, rows)
}

// dropAll empties the current schema (tables with their indexes, sequences and
// views); extensions stay, a dump recreates them IF NOT EXISTS. A newer schema's
// tables must not outlive a restore of an older one.
const dropAll = `DO $$DECLARE r record; BEGIN
FOR r IN SELECT tablename AS n FROM pg_tables WHERE schemaname = current_schema() LOOP
  EXECUTE format('DROP TABLE IF EXISTS %I.%I CASCADE', current_schema(), r.n); END LOOP;
FOR r IN SELECT c.relname AS n, c.relkind AS k FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
  LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
  WHERE s.nspname = current_schema() AND c.relkind IN ('S', 'v', 'm') AND d.objid IS NULL LOOP
  EXECUTE format(CASE r.k WHEN 'S' THEN 'DROP SEQUENCE IF EXISTS %I.%I CASCADE' WHEN 'v' THEN 'DROP VIEW IF EXISTS %I.%I CASCADE'
    ELSE 'DROP MATERIALIZED VIEW IF EXISTS %I.%I CASCADE' END, current_schema(), r.n); END LOOP;
END$$;
`

// pgRestore replaces the whole database with the dump at path in one transaction:
// pg_restore writes the dump as a script, psql runs it after dropAll with
// --single-transaction, stopping at the first error (then nothing changed).
func pgRestore(ctx context.Context, o Options, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	script, err := pgCommand(ctx, o.DatabaseURL, "pg_restore", "--no-owner", "--no-privileges", "--file=-", path)
	if err != nil {
		return err
	}
	psql, err := pgCommand(ctx, o.DatabaseURL, "psql", "--no-psqlrc", "--quiet", "--single-transaction",
		"--set=ON_ERROR_STOP=1", "--file=-")
	if err != nil {
		return err
	}
	out, err := script.StdoutPipe()
	if err != nil {
		return err
	}
	var scriptErr limitedBuffer
	script.Stderr = &scriptErr
	if err := script.Start(); err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	// psql commits what it read when its input ends: should pg_restore fail midway,
	// the input ends with a statement that fails, so nothing is committed.
	var serr error
	tail := readerFunc(func(p []byte) (int, error) {
		if serr = script.Wait(); serr != nil {
			return copy(p, "\nDO $$BEGIN RAISE EXCEPTION 'pg_restore failed: nothing restored'; END$$;\n"), io.EOF
		}
		return 0, io.EOF
	})
	psql.Stdin = io.MultiReader(strings.NewReader(dropAll), out, tail)
	psql.Stdout = io.Discard
	perr := runTool(psql)
	if perr != nil && serr == nil && script.ProcessState == nil {
		script.Process.Kill()
		script.Wait()
	}
	if serr != nil {
		return fmt.Errorf("restore database: pg_restore: %w: %s", serr, strings.TrimSpace(scriptErr.String()))
	}
	if perr != nil {
		return fmt.Errorf("restore database: %w", perr)
	}
	return nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
