package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/doorstep/doorstep/eventstore/sqlite"
)

// Decision 0089: every connection keeps its own page cache outside the Go
// heap (about twice its nominal size with the driver's allocator). They
// were 32 MiB each, nine connections: up to ~576 MB of a server that must
// stay under 300 MB. The writer keeps 8 MiB, each reader 2 MiB.
func TestPageCachesAreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	mustOpen(t, path).Close()
	for _, c := range []struct {
		readOnly bool
		want     int
	}{{false, sqlite.WriterCacheKiB}, {true, sqlite.ReaderCacheKiB}} {
		db, err := sql.Open("sqlite", sqlite.DSN(path, c.readOnly))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if n != -c.want {
			t.Errorf("read-only %v: cache_size %d, want %d (KiB)", c.readOnly, n, -c.want)
		}
	}
	// The default store (a writer and eight readers) within 24 MiB of pages.
	if total := sqlite.WriterCacheKiB + 8*sqlite.ReaderCacheKiB; total > 24<<10 {
		t.Fatalf("page caches of the default store: %d KiB", total)
	}
}
