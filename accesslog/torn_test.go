package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/pgtest"
)

// A write cut short by a full disk leaves no partial line: the read it
// recorded is refused (not served), and the next record, once space is
// back, is a whole line of its own and listed. Before the fix the next
// record was appended to the partial line and skipped as torn: a served
// read went unlisted.
func TestFileShortWriteLeavesNoPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	a, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	who := identity.Principal{Name: "李四", Role: identity.RoleWorker}
	if err := a.RecordAccess(ctx, who, "h1", "first"); err != nil {
		t.Fatal(err)
	}
	full := func(b []byte) (int, error) {
		n, _ := a.f.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	a.write = full
	if err := a.RecordAccess(ctx, who, "h1", "refused"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a record cut short: %v, want the disk-full error (the read is not served)", err)
	}
	a.write = a.f.Write
	if err := a.RecordAccess(ctx, who, "h1", "served after the disk was freed"); err != nil {
		t.Fatal(err)
	}
	got, err := a.SensitiveReads(ctx, "h1", 10, 0)
	if err != nil || len(got) != 2 || got[0].What != "served after the disk was freed" || got[1].What != "first" {
		t.Fatalf("listed: %+v %v; want the two served reads", got, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("a line that is not a whole record: %q", line)
		}
	}
}

// Should the cut back fail too, no record is written (no read served) until
// the cut succeeds.
func TestFileRefusesWhileTheTornEndCannotBeCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	a, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	who := identity.Principal{Name: "李四", Role: identity.RoleWorker}
	a.write = func(b []byte) (int, error) {
		n, _ := a.f.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	good := a.end
	a.end = -1 // Truncate fails: a cut that cannot be made
	if err := a.RecordAccess(ctx, who, "h1", "refused"); err == nil {
		t.Fatal("a short write succeeded")
	}
	a.write = a.f.Write
	if err := a.RecordAccess(ctx, who, "h1", "refused too"); err == nil {
		t.Fatal("a record was written after a partial one that could not be cut off")
	}
	a.end = good
	if err := a.RecordAccess(ctx, who, "h1", "served"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.SensitiveReads(ctx, "h1", 10, 0); err != nil || len(got) != 1 || got[0].What != "served" {
		t.Fatalf("listed: %+v %v", got, err)
	}
}

// Opening a file whose last line is torn cuts it off.
func TestOpenFileCutsATornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	whole := `{"at":"2026-12-02T00:00:00Z","actor":"a","role":"worker","household_id":"h1","what":"x"}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"at":"2026-12-02T00:00:01Z","actor":"半`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, _ := os.ReadFile(path); string(b) != whole {
		t.Fatalf("after open: %q", b)
	}
	if err := a.RecordAccess(context.Background(), identity.Principal{Name: "b", Role: identity.RoleAuditor}, "h1", "y"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.SensitiveReads(context.Background(), "h1", 10, 0); err != nil || len(got) != 2 {
		t.Fatalf("listed: %+v %v", got, err)
	}
	// A file of one torn line only becomes empty.
	p2 := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p2, []byte(`{"at":`), 0o600); err != nil {
		t.Fatal(err)
	}
	b2, err := OpenFile(p2, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2.Close()
	if fi, _ := os.Stat(p2); fi.Size() != 0 {
		t.Fatalf("size %d, want 0", fi.Size())
	}
}

// The table made before internal/migrate (by the old pgddl, nothing in
// schema_migrations) is adopted, its rows kept.
func TestPostgresAdoptsTheOldTable(t *testing.T) {
	schema, conn := accessSchema(t)
	ctx := context.Background()
	q := pgx.Identifier{schema}.Sanitize()
	for _, s := range []string{`CREATE SCHEMA ` + q,
		`CREATE TABLE ` + q + `.sensitive_reads (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
			actor text NOT NULL, role text NOT NULL, household_id text NOT NULL, what text NOT NULL)`,
		`CREATE INDEX sensitive_reads_household ON ` + q + `.sensitive_reads (household_id, at)`,
		`INSERT INTO ` + q + `.sensitive_reads (at, actor, role, household_id, what) VALUES (now(), 'old', 'auditor', 'h1', 'before')`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.New(ctx, pgtest.SharedURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := NewPostgres(ctx, pool, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RecordAccess(ctx, identity.Principal{Name: "new", Role: identity.RoleAdmin}, "h1", "after"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.SensitiveReads(ctx, "h1", 10, 0); err != nil || len(got) != 2 || got[1].Actor != "old" {
		t.Fatalf("listed: %+v %v", got, err)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM `+q+`.schema_migrations WHERE owner = 'accesslog'`).Scan(&v); err != nil || v != len(Migrations().Steps) {
		t.Fatalf("accesslog at version %d (%v)", v, err)
	}
}
