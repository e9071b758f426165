package migrate_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"

	"github.com/doorstep/doorstep/internal/migrate"
	"github.com/doorstep/doorstep/internal/pgtest"
)

func pool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pgtest.Connect(t).Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "migrate_test_" + hex.EncodeToString(b[:])
	p, err := pgxpool.New(context.Background(), pgtest.SharedURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = p.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		p.Close()
	})
	return p, schema
}

var sets = []migrate.Set{
	{Owner: "a", Steps: []string{`CREATE TABLE {schema}a (x integer)`, `ALTER TABLE {schema}a ADD COLUMN y integer`}},
	{Owner: "b", Steps: []string{`CREATE TABLE {schema}b (x integer)`}},
}

// TestConcurrentNodes: eight nodes starting at once apply each step once.
func TestConcurrentNodes(t *testing.T) {
	p, schema := pool(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = migrate.Up(context.Background(), migrate.Postgres(p, schema), sets...) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	rows, _ := p.Query(context.Background(), `SELECT owner || ':' || version FROM `+pgx.Identifier{schema}.Sanitize()+`.schema_migrations ORDER BY 1`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "a:1 a:2 b:1" {
		t.Fatalf("schema_migrations = %v", got)
	}
	// Appending a step applies only that one.
	more := append([]migrate.Set{}, sets...)
	more[1].Steps = append(more[1].Steps, `ALTER TABLE {schema}b ADD COLUMN y integer`)
	if err := migrate.Up(context.Background(), migrate.Postgres(p, schema), more...); err != nil {
		t.Fatal(err)
	}
	// A binary that knows fewer steps is refused.
	if err := migrate.Up(context.Background(), migrate.Postgres(p, schema), sets...); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older binary: %v, want refusal", err)
	}
}

// TestAdoptsTheStoreTable: the event store's table from before owners
// (version PRIMARY KEY) gains the owner column; its rows are the event
// store's.
func TestAdoptsTheStoreTable(t *testing.T) {
	p, schema := pool(t)
	q := pgx.Identifier{schema}.Sanitize()
	ctx := context.Background()
	for _, s := range []string{`CREATE SCHEMA ` + q,
		`CREATE TABLE ` + q + `.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ` + q + `.schema_migrations (version) VALUES (1)`} {
		if _, err := p.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	store := migrate.Set{Owner: "eventstore", Steps: []string{`CREATE TABLE {schema}never (x integer)`}}
	if err := migrate.Up(ctx, migrate.Postgres(p, schema), append([]migrate.Set{store}, sets...)...); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'never'`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the store's recorded step 1 ran again (%d, %v)", n, err)
	}
}

// TestSQLite: the same steps, the same table, in a SQLite file.
func TestSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if err := migrate.Up(context.Background(), migrate.SQLite(db), sets...); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("schema_migrations rows = %d, %v; want 3", n, err)
	}
	if _, err := db.Exec(`INSERT INTO a (x, y) VALUES (1, 2)`); err != nil {
		t.Fatal(err)
	}
}
