package store

import (
	"embed"

	"github.com/sproudstack/sproudchat/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrator migrates the instance's database (DB.Migrate, CurrentVersion,
// LatestVersion); its advisory lock key is not the control plane's.
var migrator = database.Migrator{FS: migrationFiles, Dir: "migrations", LockKey: 727001,
	Steps: []database.Migration{resealTargets(nil)}}

// Dialect names the database kind, SQLite or Postgres.
type Dialect = database.Dialect

// The supported databases.
const SQLite, Postgres = database.SQLite, database.Postgres

// Migration is one versioned schema change (see database.Migrator for the file format).
type Migration = database.Migration

// Migrations returns the migrations for dialect d in version order.
func Migrations(d Dialect) ([]Migration, error) { return migrator.Migrations(d) }
