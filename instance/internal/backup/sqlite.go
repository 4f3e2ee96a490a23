package backup

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "github.com/glebarez/go-sqlite" // the driver the store uses, as database/sql's "sqlite"
)

// openSQLite opens the file at path alone (no pool, no WAL pragma: a database this
// package copies or checks keeps its journal mode).
func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// copySQLite copies the live database src into dst with VACUUM INTO (one read
// transaction: everything committed before it began, nothing after), turns the copy's
// journal mode to DELETE (a single file, no -wal to carry) and counts its rows.
func copySQLite(ctx context.Context, src, dst string) (int64, map[string]int64, error) {
	db, err := openSQLite(src)
	if err != nil {
		return 0, nil, err
	}
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", dst)
	db.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("copy database: %w", err)
	}
	cp, err := openSQLite(dst)
	if err != nil {
		return 0, nil, err
	}
	defer cp.Close()
	if _, err := cp.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return 0, nil, fmt.Errorf("copy database: %w", err)
	}
	v, rows, err := countAll(ctx, cp, listTablesSQLite)
	if err != nil {
		return 0, nil, err
	}
	return v, rows, cp.Close()
}

const listTablesSQLite = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"

// queryer is a database or a transaction.
type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// countAll returns the schema version and the rows of every table listTables names
// (SQLite: all but sqlite_*; PostgreSQL: those of the current schema).
func countAll(ctx context.Context, q queryer, listTables string) (int64, map[string]int64, error) {
	res, err := q.QueryContext(ctx, listTables)
	if err != nil {
		return 0, nil, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for res.Next() {
		var n string
		if err := res.Scan(&n); err != nil {
			res.Close()
			return 0, nil, err
		}
		names = append(names, n)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return 0, nil, fmt.Errorf("list tables: %w", err)
	}
	return countTables(ctx, q, names)
}

// countTables counts the rows of each named table and reads the schema version from
// schema_migrations (0 without it).
func countTables(ctx context.Context, q queryer, names []string) (int64, map[string]int64, error) {
	rows := make(map[string]int64, len(names))
	var version int64
	for _, n := range names {
		var c int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(n)).Scan(&c); err != nil {
			return 0, nil, fmt.Errorf("count rows of %s: %w", n, err)
		}
		rows[n] = c
		if n == "schema_migrations" {
			var v sql.NullInt64
			if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
				return 0, nil, fmt.Errorf("read schema version: %w", err)
			}
			version = v.Int64
		}
	}
	return version, rows, nil
}

// quoteIdent quotes a table name for either dialect.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// checkSQLite runs PRAGMA integrity_check on the database at path and returns its
// schema version and row counts. A damaged database is ErrRefused.
func checkSQLite(ctx context.Context, path string) (int64, map[string]int64, error) {
	db, err := openSQLite(path)
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	var problems []string
	res, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return 0, nil, fmt.Errorf("%w: the database fails its integrity check: %v", ErrRefused, err)
	}
	for res.Next() {
		var line string
		if err := res.Scan(&line); err != nil {
			res.Close()
			return 0, nil, err
		}
		problems = append(problems, line)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return 0, nil, fmt.Errorf("%w: the database fails its integrity check: %v", ErrRefused, err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		if len(problems) > 5 {
			problems = problems[:5]
		}
		return 0, nil, fmt.Errorf("%w: the database fails its integrity check: %v", ErrRefused, problems)
	}
	v, rows, err := countAll(ctx, db, listTablesSQLite)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return v, rows, db.Close()
}
