// Package store is the control plane's persistence: gorm over SQLite (the default, a
// file in the data dir) or PostgreSQL, with versioned migrations embedded in the binary.
package store

import (
	"context"
	"embed"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrator migrates the control plane's database (DB.Migrate, CurrentVersion,
// LatestVersion); its advisory lock key is not an instance's.
var migrator = database.Migrator{FS: migrationFiles, Dir: "migrations", LockKey: 727002,
	Steps: []database.Migration{resealSecrets(nil)}}

// Dialect names the database kind, SQLite or Postgres.
type Dialect = database.Dialect

// The supported databases.
const SQLite, Postgres = database.SQLite, database.Postgres

// DB is an open database of the control plane.
type DB struct {
	*database.DB
	// gorm and dialect are the embedded DB's, at hand for the store's queries.
	gorm    *gorm.DB
	dialect Dialect
}

// Open connects to PostgreSQL when url is given, else opens (creating, readable by this
// user only) the SQLite file at sqlitePath. It does not migrate.
func Open(ctx context.Context, url, sqlitePath string) (*DB, error) {
	db, err := database.Open(ctx, database.Options{URL: url, SQLitePath: sqlitePath, Migrator: migrator})
	if err != nil {
		return nil, err
	}
	return &DB{DB: db, gorm: db.Gorm(), dialect: db.Dialect()}, nil
}

// translate maps driver errors to the domain's sentinels.
func translate(err error) error {
	return database.Translate(err, lifecycle.ErrNotFound, lifecycle.ErrConflict)
}
