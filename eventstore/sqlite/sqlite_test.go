package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

type fixture struct {
	path string
	s    *sqlite.Store
}

func newFixture(t *testing.T) storetest.Fixture {
	f := &fixture{path: filepath.Join(t.TempDir(), "events.db")}
	f.s = mustOpen(t, f.path)
	t.Cleanup(func() { f.s.Close() })
	return f
}

func mustOpen(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return s
}

func (f *fixture) Store() eventstore.Store { return f.s }

func (f *fixture) Reopen(t *testing.T) eventstore.Store {
	if err := f.s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	f.s = mustOpen(t, f.path)
	return f.s
}

func (f *fixture) Tamper(t *testing.T, stream string, version uint64) {
	db, err := sql.Open("sqlite", sqlite.DSN(f.path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE events SET data = CAST(CAST(data AS TEXT) || ' ' AS BLOB) WHERE stream = ? AND version = ?`, stream, version)
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper changed %d rows, want 1", n)
	}
}

// features: The SQLite store offers every feature the conformance suite checks.
var features = storetest.Features{
	Append: true, ReadStream: true, ReadAll: true, ExpectedVersion: true,
	IdempotentRetry: true, DurableIdempotency: true, UniqueEventIDs: true,
	Head: true, Subscribe: true, SubscribeFilters: true,
	HashChain: true, Tamper: true,
}

func TestConformance(t *testing.T) { storetest.Run(t, features, newFixture) }

func TestConfigErrors(t *testing.T) {
	if _, err := sqlite.Open(context.Background(), sqlite.Config{}); err == nil {
		t.Fatal("open with no path succeeded")
	}
	if _, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "missing-dir", "x", "events.db")}); err == nil {
		t.Fatal("open in a missing directory succeeded")
	}
}

// TestGroupCommit checks that concurrent appends to different streams share
// commits, and that each caller still gets its own correct result.
func TestGroupCommit(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	defer s.Close()
	const writers, per = 32, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := storetest.Stream("household")
			for i := 0; i < per; i++ {
				res, err := s.Append(context.Background(), st, eventstore.Exact(uint64(i)), storetest.Event("visit.recorded", i))
				if err != nil || res.FirstVersion != uint64(i+1) || res.LastVersion != uint64(i+1) {
					t.Errorf("append %d to %s: %+v, %v", i, st, res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Appends != writers*per {
		t.Fatalf("writer answered %d appends, want %d", st.Appends, writers*per)
	}
	if st.Commits >= st.Appends {
		t.Fatalf("%d appends took %d commits: concurrent appends were not committed together", st.Appends, st.Commits)
	}
	t.Logf("%d appends in %d commits (%.1f per commit)", st.Appends, st.Commits, float64(st.Appends)/float64(st.Commits))
	n, err := eventstore.VerifyAll(context.Background(), s, nil)
	if err != nil || n != writers*per {
		t.Fatalf("verify: %d events, %v", n, err)
	}
}
