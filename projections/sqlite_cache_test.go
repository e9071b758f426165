package projections_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/doorstep/doorstep/projections"
)

// Decision 0089: the read-model connections' page caches were up to 256
// MiB each (a dozen connections in a server); the engine's are 8 MiB, a
// query pool's 2 MiB.
func TestReadModelPageCachesAreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readmodels.db")
	for _, c := range []struct {
		open func(context.Context, string) (*sql.DB, error)
		want int
	}{{projections.OpenSQLite, projections.EngineCacheKiB}, {projections.OpenSQLiteQueries, projections.QueryCacheKiB}} {
		db, err := c.open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if n != -c.want {
			t.Errorf("cache_size %d, want %d (KiB)", n, -c.want)
		}
	}
	if projections.EngineCacheKiB > 8<<10 || projections.QueryCacheKiB > 2<<10 {
		t.Fatal("read-model page caches over their budget")
	}
}
