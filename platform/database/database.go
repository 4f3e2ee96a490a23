// Package database opens the SQLite or PostgreSQL database of either binary through
// gorm and migrates it with versioned migrations embedded in the binary.
package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database kind.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options say which database to open.
type Options struct {
	// URL is a PostgreSQL URL; empty means SQLite at SQLitePath.
	URL string
	// SQLitePath is the SQLite file, created (0600) if missing.
	SQLitePath string
	// WALAutoCheckpoint is SQLite's automatic checkpoint threshold in pages; 0 keeps
	// SQLite's default (1000). A process that runs RunCheckpoints sets it high, as a
	// backstop only, so no commit pays for a checkpoint.
	WALAutoCheckpoint int
	// Migrator migrates this database (DB.Migrate and its kin).
	Migrator Migrator
}

// DB is an open database.
type DB struct {
	gorm     *gorm.DB
	dialect  Dialect
	migrator Migrator
}

// Open connects to PostgreSQL when o.URL is given, else opens (creating) the SQLite file
// o.SQLitePath, readable by this user only. It does not migrate. Errors never contain
// the URL's password.
func Open(ctx context.Context, o Options) (*DB, error) {
	cfg := &gorm.Config{
		// gorm's logger prints SQL with its arguments, which can hold password hashes,
		// token digests and sealed secrets: it stays off.
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var (
		g       *gorm.DB
		err     error
		dialect Dialect
	)
	if o.URL != "" {
		dialect = Postgres
		g, err = gorm.Open(postgres.Open(o.URL), cfg)
	} else {
		dialect = SQLite
		if err := privateFiles(o.SQLitePath); err != nil {
			return nil, err
		}
		// WAL lets readers go on while one writer writes; busy_timeout makes a second
		// writer wait instead of failing; foreign keys are off by default in SQLite.
		dsn := "file:" + o.SQLitePath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		if o.WALAutoCheckpoint > 0 {
			dsn += fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", o.WALAutoCheckpoint)
		}
		g, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, redact(err, o.URL))
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(10)
	}
	sqlDB.SetMaxIdleConns(2)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("reach %s database: %w", dialect, redact(err, o.URL))
	}
	return &DB{gorm: g, dialect: dialect, migrator: o.Migrator}, nil
}

// privateFiles makes the SQLite database readable by this user only: it creates the
// file 0600 before SQLite does (SQLite gives its -wal and -shm files the database
// file's mode), and tightens the files an older version left 0644.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make %s private: %w", p, err)
		}
	}
	return nil
}

// RunCheckpoints copies SQLite's write-ahead log into the database file every period
// until ctx ends, without blocking writers (a passive checkpoint), so no commit pays for
// it. PostgreSQL checkpoints itself: there it returns at once.
func (db *DB) RunCheckpoints(ctx context.Context, every time.Duration) {
	if db.dialect != SQLite {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			db.gorm.WithContext(ctx).Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// Dialect tells which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Gorm gives the adapters of a binary the connection.
func (db *DB) Gorm() *gorm.DB { return db.gorm }

// Close closes the connection pool.
func (db *DB) Close() error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Translate maps a driver error to a domain's sentinels: no row found becomes notFound,
// a unique constraint refusing a row becomes conflict, nil stays nil and anything else
// is returned as it is. The driver's message (table, column, constraint names) is
// dropped on purpose: a conflict's text may reach a user as a 409's detail.
func Translate(err, notFound, conflict error) error {
	switch {
	case err == nil:
		return nil
	case IsNotFound(err):
		return notFound
	case IsDuplicate(err):
		return conflict
	}
	return err
}

// IsNotFound reports whether err means a query found no row.
func IsNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }

// IsDuplicate reports whether err is a unique constraint refusing a row, on either
// database.
func IsDuplicate(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// redact keeps a database URL's password out of error messages (which get logged).
func redact(err error, url string) error {
	if url == "" || err == nil {
		return err
	}
	msg := err.Error()
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.LastIndex(url, "@"); at > i {
			if c := strings.Index(url[i+3:at], ":"); c >= 0 {
				if pw := url[i+3+c+1 : at]; pw != "" {
					msg = strings.ReplaceAll(msg, pw, "xxxxx")
				}
			}
		}
	}
	return errors.New(msg)
}
