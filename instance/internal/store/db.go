// Package store is the instance's persistence: gorm over SQLite (the default, a file in
// the data dir) or PostgreSQL, with versioned migrations embedded in the binary.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/sproudstack/sproudchat/instance"
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
		// WAL lets readers go on while one writer writes; busy_timeout makes a second
		// writer wait instead of failing; foreign keys are off by default in SQLite.
		// Checkpoints (which fsync) run in the background (RunCheckpoints), not in the
		// commit that happens to fill the WAL; the high automatic threshold is only a
		// backstop for a process that does not run them.
		dsn := "file:" + sqlitePath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(20000)&_txlock=immediate"
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

// RunCheckpoints copies SQLite's write-ahead log into the database file every period
// until ctx ends, without blocking writers (a passive checkpoint), so no message's
// commit pays for it. PostgreSQL checkpoints itself: there it returns at once.
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

// errBadCursor: a pagination cursor this store did not make. It wraps ErrInvalid.
var errBadCursor = fmt.Errorf("%w: not a cursor this API returned", instance.ErrInvalid)

// translate maps driver errors to the domain's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return instance.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return fmt.Errorf("%w: %v", instance.ErrConflict, err)
	}
	return err
}
