// Package store is the control plane's persistence: gorm over SQLite (the default, a
// file in the data dir) or PostgreSQL, with versioned migrations embedded in the binary.
// Its migration runner mirrors the instance app's: the two modules share no code by
// design (an instance imports nothing of the control plane).
package store

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

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// Dialect names the database kind.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database of one instance.
type DB struct {
	gorm    *gorm.DB
	dialect Dialect
}

// Open connects to PostgreSQL when url is given, else opens (creating) the SQLite file
// at sqlitePath. It does not migrate.
func Open(ctx context.Context, url, sqlitePath string) (*DB, error) {
	cfg := &gorm.Config{
		// gorm's logger prints SQL with its arguments, which can hold password hashes
		// and token digests: it stays off.
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
	if url != "" {
		dialect = Postgres
		g, err = gorm.Open(postgres.Open(url), cfg)
	} else {
		dialect = SQLite
		if err := privateFiles(sqlitePath); err != nil {
			return nil, err
		}
		// WAL lets readers go on while one writer writes; busy_timeout makes a second
		// writer wait instead of failing; foreign keys are off by default in SQLite.
		dsn := "file:" + sqlitePath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		g, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, redact(err, url))
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
		return nil, fmt.Errorf("reach %s database: %w", dialect, redact(err, url))
	}
	return &DB{gorm: g, dialect: dialect}, nil
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

// Dialect tells which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Gorm gives other adapters in this module the connection.
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

// redact keeps a database URL's password out of error messages (which get logged).
func redact(err error, url string) error {
	if url == "" || err == nil {
		return err
	}
	msg := err.Error()
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.LastIndex(url, "@"); at > i {
			if c := strings.Index(url[i+3:at], ":"); c >= 0 {
				pw := url[i+3+c+1 : at]
				if pw != "" {
					msg = strings.ReplaceAll(msg, pw, "xxxxx")
				}
			}
		}
	}
	return errors.New(msg)
}

// translate maps driver errors to the domain's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return lifecycle.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return fmt.Errorf("%w: %v", lifecycle.ErrConflict, err)
	}
	return err
}
