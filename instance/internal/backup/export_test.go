package backup

// WithFailAt returns o with a hook run before each step of a swap or rollback.
func WithFailAt(o Options, f func(step string) error) Options {
	o.failAt = f
	return o
}

// BreakIndex deletes the schema row of one index of the SQLite database at path,
// leaving its pages orphaned: a database PRAGMA integrity_check rejects.
func BreakIndex(path string) error {
	db, err := openSQLite(path)
	if err != nil {
		return err
	}
	defer db.Close()
	var name string
	if err := db.QueryRow("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name LIMIT 1").Scan(&name); err != nil {
		return err
	}
	for _, q := range []string{"PRAGMA writable_schema = ON", "DELETE FROM sqlite_master WHERE name = '" + name + "'", "PRAGMA writable_schema = OFF"} {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	return db.Close()
}
