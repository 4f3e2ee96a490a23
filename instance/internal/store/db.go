// Package store is the instance's persistence: gorm over SQLite (the default, a file in
// the data dir) or PostgreSQL, with versioned migrations embedded in the binary.
package store

import (
	"context"
	"fmt"
	"sync"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/platform/database"
)

// DB is an open database of one instance.
type DB struct {
	*database.DB
	// gorm and dialect are the embedded DB's, at hand for the store's queries.
	gorm    *gorm.DB
	dialect Dialect
	// writes counts the commits running in goroutines of their own (a chat batch
	// handed on by its leader): Close waits for them.
	writes sync.WaitGroup
}

// Open connects to PostgreSQL when url is given, else opens (creating) the SQLite file
// at sqlitePath. It does not migrate.
func Open(ctx context.Context, url, sqlitePath string) (*DB, error) {
	// Checkpoints (which fsync) run in the background (RunCheckpoints), not in the commit
	// that happens to fill the WAL; the high automatic threshold is only a backstop for a
	// process that does not run them.
	db, err := database.Open(ctx, database.Options{URL: url, SQLitePath: sqlitePath, Migrator: migrator, WALAutoCheckpoint: 20000})
	if err != nil {
		return nil, err
	}
	return &DB{DB: db, gorm: db.Gorm(), dialect: db.Dialect()}, nil
}

// Close waits for the commits in progress, then closes the database.
func (db *DB) Close() error {
	db.writes.Wait()
	return db.DB.Close()
}

// errBadCursor: a pagination cursor this store did not make. It wraps ErrInvalid.
var errBadCursor = fmt.Errorf("%w: not a cursor this API returned", instance.ErrInvalid)

// translate maps driver errors to the domain's sentinels.
func translate(err error) error {
	return database.Translate(err, instance.ErrNotFound, instance.ErrConflict)
}
