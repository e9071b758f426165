package accesslog

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/pgtest"
)

// recorder is what recordMany needs of a record of sensitive reads.
type recorder interface {
	RecordAccess(ctx context.Context, who identity.Principal, householdID, what string) error
}

// accessSchema returns a schema name no one uses yet (not created) and a
// connection to inspect it; the schema is dropped when the test ends.
func accessSchema(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "access_test_" + hex.EncodeToString(b)
	conn := pgtest.Connect(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, conn
}

// recordMany records n reads at once, by two principals, and fails the
// test on any error.
func recordMany(t *testing.T, rec recorder, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := identity.Principal{Name: "李四", Role: identity.RoleWorker}
			if i%2 == 1 {
				who = identity.Principal{Name: "督查", Role: identity.RoleAuditor}
			}
			errs <- rec.RecordAccess(context.Background(), who, fmt.Sprintf("h%d", i), "household profile (sensitive member fields)")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkRecords checks that recs are the n reads recordMany made.
func checkRecords(t *testing.T, recs []Record, n int, since time.Time) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(r.HouseholdID, "h%d", &i); err != nil || seen[r.HouseholdID] {
			t.Fatalf("record %+v: household unknown or recorded twice", r)
		}
		seen[r.HouseholdID] = true
		want := identity.Principal{Name: "李四", Role: identity.RoleWorker}
		if i%2 == 1 {
			want = identity.Principal{Name: "督查", Role: identity.RoleAuditor}
		}
		if r.Actor != want.Name || r.Role != want.Role || r.What != "household profile (sensitive member fields)" ||
			r.At.Before(since.Add(-time.Second)) || r.At.After(clock.Now().Add(time.Second)) {
			t.Fatalf("record %+v, want actor %s role %s at about now", r, want.Name, want.Role)
		}
	}
}

func TestAccessLogFile(t *testing.T) {
	since := clock.Now()
	path := filepath.Join(t.TempDir(), FileName)
	a, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recordMany(t, a, 40)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("access log mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	checkRecords(t, recs, 40, since)
	// A crash tore the last line; the log opened again starts a new one.
	if _, err := a.f.WriteString(`{"at":"2026-12-02T00:00:00Z","actor":"半`); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if a, err = OpenFile(path, nil); err != nil {
		t.Fatal(err)
	}
	recordMany(t, a, 2)
	// Listed per household, newest first; a line still being written (no
	// newline yet) is left out.
	if _, err := a.f.WriteString(`{"at":"2026-12-02T00:00:00Z","household_id":"h0","actor":"半`); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"h0", "h1"} {
		got, err := a.SensitiveReads(context.Background(), id, 10, 0)
		if err != nil || len(got) != 2 || got[0].HouseholdID != id || got[0].At.Before(got[1].At) {
			t.Fatalf("SensitiveReads(%s) = %+v, %v; want its two reads, newest first", id, got, err)
		}
	}
	if got, err := a.SensitiveReads(context.Background(), "h0", 10, 2); err != nil || len(got) != 0 {
		t.Fatalf("past the last page: %+v, %v", got, err)
	}
	// A record that cannot be written is an error: the read is not served.
	a.Close()
	if err := a.RecordAccess(context.Background(), identity.Principal{Name: "x", Role: identity.RoleAdmin}, "h", "profile"); err == nil {
		t.Fatal("RecordAccess on a closed log succeeded")
	}
}

func TestPostgresAccessLog(t *testing.T) {
	since := clock.Now()
	schema, conn := accessSchema(t)
	ctx := context.Background()
	// Several nodes open the same schema at once.
	pools := make([]*pgxpool.Pool, 3)
	for i := range pools {
		p, err := pgxpool.New(ctx, pgtest.SharedURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		pools[i] = p
	}
	logs := make([]*Postgres, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i], errs[i] = NewPostgres(ctx, pools[i], schema, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	recordMany(t, logs[0], 30)
	recordMany(t, logs[2], 2)
	rows, err := conn.Query(ctx, `SELECT at, actor, role, household_id, what FROM `+schema+`.sensitive_reads WHERE household_id LIKE 'h%' AND id IN
		(SELECT id FROM `+schema+`.sensitive_reads ORDER BY id LIMIT 30)`)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for rows.Next() {
		var r Record
		var role string
		if err := rows.Scan(&r.At, &r.Actor, &role, &r.HouseholdID, &r.What); err != nil {
			t.Fatal(err)
		}
		r.Role = identity.Role(role)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, 30, since)
	var total int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.sensitive_reads`).Scan(&total); err != nil || total != 32 {
		t.Fatalf("%d rows (%v), want 32 from two nodes", total, err)
	}
	// Any node lists a household's reads, newest first.
	got, err := logs[1].SensitiveReads(ctx, "h1", 10, 0)
	if err != nil || len(got) != 2 || got[0].Actor != "督查" || got[0].At.Before(got[1].At) {
		t.Fatalf("SensitiveReads(h1) = %+v, %v; want its two reads, newest first", got, err)
	}
	if got, err := logs[1].SensitiveReads(ctx, "h1", 1, 1); err != nil || len(got) != 1 {
		t.Fatalf("second page of one: %+v, %v", got, err)
	}
	// A record that cannot be written is an error: the read is not served.
	pools[1].Close()
	if err := logs[1].RecordAccess(ctx, identity.Principal{Name: "x", Role: identity.RoleAdmin}, "h", "profile"); err == nil {
		t.Fatal("RecordAccess without a connection succeeded")
	}
	if _, err := NewPostgres(ctx, pools[0], "Bad-Name", nil); err == nil {
		t.Fatal("a schema name that is not a plain identifier was accepted")
	}
}
