package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

// TestTranslate: on both databases a missing row and a duplicate key become the
// domain's sentinels.
func TestTranslate(t *testing.T) {
	errNotFound, errConflict := errors.New("not found"), errors.New("conflict")
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		g := dbtest.MustOpenEmpty(t, d).Gorm().WithContext(context.Background())
		if err := g.Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").Error; err != nil {
			t.Fatal(err)
		}
		g.Exec("INSERT INTO t (k) VALUES ('a')")
		var row struct{ K string }
		tests := []struct {
			name string
			err  error
			want error // nil: err is returned as it is
		}{
			{"missing row", g.Table("t").Where("k = ?", "b").Take(&row).Error, errNotFound},
			{"duplicate key", g.Exec("INSERT INTO t (k) VALUES ('a')").Error, errConflict},
			{"other error", g.Exec("SELECT nope FROM t").Error, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := database.Translate(tc.err, errNotFound, errConflict)
				switch {
				case tc.err == nil:
					t.Fatal("the query did not fail")
				case tc.want == nil && got != tc.err:
					t.Errorf("Translate(%v) = %v, want it unchanged", tc.err, got)
				case tc.want != nil && !errors.Is(got, tc.want):
					t.Errorf("Translate(%v) = %v, want %v", tc.err, got, tc.want)
				case tc.want != nil && got.Error() != tc.want.Error():
					// A 409's detail is the error's text: no table, column or constraint.
					t.Errorf("Translate(%v) says %q, want only %q", tc.err, got, tc.want)
				}
			})
		}
		if database.Translate(nil, errNotFound, errConflict) != nil {
			t.Error("Translate(nil) is not nil")
		}
	})
}
