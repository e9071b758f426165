package accesslog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/pgtest"
)

type chained interface {
	RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error
	Verify(ctx context.Context) (ChainReport, error)
	Reveals(ctx context.Context, limit, offset int) ([]Record, error)
}

// revealMany records n reveals from several goroutines at once (group
// commit) with their purposes.
func revealMany(t *testing.T, c chained, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []string{PurposeVisitPreparation, PurposeAudit}[i%2]
			errs <- c.RecordReveal(context.Background(), identity.Principal{Name: "李四", Role: identity.RoleWorker}, "h1", "household profile", p)
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

func mustVerify(t *testing.T, c chained, records int) {
	t.Helper()
	rep, err := c.Verify(context.Background())
	if err != nil || !rep.Verified || rep.Records != records || rep.Head == "" {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func mustBreak(t *testing.T, c chained, want string) {
	t.Helper()
	rep, err := c.Verify(context.Background())
	if err != nil || rep.Verified || !strings.Contains(rep.Problem, want) {
		t.Fatalf("verify after tampering: %+v %v, want a problem with %q", rep, err, want)
	}
}

// TestRevealChainFile: the file's records chain across groups and a
// reopen (legacy records first are counted apart); an altered, removed or
// reordered record is found.
func TestRevealChainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	// A record from before the chain.
	if err := os.WriteFile(path, []byte(`{"at":"2026-01-01T00:00:00Z","actor":"x","role":"worker","household_id":"h0","what":"old"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	revealMany(t, a, 20)
	a.Close()
	if a, err = OpenFile(path, nil); err != nil { // the chain goes on after a reopen
		t.Fatal(err)
	}
	defer a.Close()
	revealMany(t, a, 5)
	rep, err := a.Verify(context.Background())
	if err != nil || !rep.Verified || rep.Records != 26 || rep.Legacy != 1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	recs, err := a.Reveals(context.Background(), 3, 0)
	if err != nil || len(recs) != 3 || recs[0].Hash != rep.Head || recs[0].Purpose == "" {
		t.Fatalf("reveals: %+v %v", recs, err)
	}

	orig, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(orig, []byte("\n"))
	tamper := func(b []byte, want string) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		mustBreak(t, a, want)
	}
	tamper(bytes.Replace(orig, []byte(`"purpose":"audit"`), []byte(`"purpose":"visit_preparation"`), 1), "altered")
	tamper(bytes.Join(append(append([][]byte{}, lines[:5]...), lines[6:]...), nil), "does not follow")
	swapped := append([][]byte{}, lines...)
	swapped[7], swapped[8] = swapped[8], swapped[7]
	tamper(bytes.Join(swapped, nil), "does not follow")
}

// TestRevealChainPostgres: two nodes record at once into one chain; an
// updated or deleted row is found.
func TestRevealChainPostgres(t *testing.T) {
	schema, conn := accessSchema(t)
	ctx := context.Background()
	nodes := make([]*Postgres, 2)
	for i := range nodes {
		p, err := pgxpool.New(ctx, pgtest.SharedURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if nodes[i], err = NewPostgres(ctx, p, schema, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); revealMany(t, n, 15) }()
	}
	wg.Wait()
	mustVerify(t, nodes[0], 30)
	mustVerify(t, nodes[1], 30)
	if _, err := conn.Exec(ctx, `UPDATE `+schema+`.sensitive_reads SET purpose = 'statutory_report' WHERE id = (SELECT id FROM `+schema+`.sensitive_reads ORDER BY id OFFSET 3 LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	mustBreak(t, nodes[0], "altered")
	if _, err := conn.Exec(ctx, `DELETE FROM `+schema+`.sensitive_reads WHERE id IN (SELECT id FROM `+schema+`.sensitive_reads ORDER BY id LIMIT 10)`); err != nil {
		t.Fatal(err)
	}
	mustBreak(t, nodes[1], "does not follow")
}
