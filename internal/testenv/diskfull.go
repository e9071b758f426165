package testenv

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
)

// FillSQLite makes the SQLite database db behave as if its disk were full
// (full true): every write that needs a new page fails with "database or
// disk is full", through SQLite's max_page_count set to the current page
// count. FillSQLite(t, db, false) frees the space again. The pragma holds
// per connection: FillSQLite sets it on every connection of the pool,
// holding them all meanwhile, so db must keep its connections (as
// projections.OpenSQLite's pool does).
func FillSQLite(t testing.TB, db *sql.DB, full bool) {
	t.Helper()
	ctx := context.Background()
	n := int64(1 << 30)
	if full {
		if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range db.Stats().MaxOpenConnections {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.FormatInt(n, 10)); err != nil {
			t.Fatal(err)
		}
	}
}
