package readmodels_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/readmodels"
)

type benchClock struct{ t time.Time }

func (c benchClock) Now() time.Time { return c.t }

// BenchmarkCloseMonth closes months of the generated town (issue 15: under
// 10 s at 100,000 households) side by side with a full rebuild of the
// measures it reads (the measures and coverage read models from position 0),
// interleaved: close, rebuild, close, rebuild… (DOORSTEP_BENCH_ROUNDS rounds,
// default 2; round i closes the i-th month back from June 2026). The log is
// copied first, so the cached town stays unclosed; every read model is
// brought up to date once before the rounds.
//
// The classes are opened as doorstep serve opens them: a key vault over the
// file key store with its keys wrapped under a KEK, default configuration.
// Odd rounds close with a vault just opened (every household's key is read
// from the key store: the first close after a start, close_cold_s), even
// rounds with the vault the catch-up used (close_warm_s, a server that has
// been running).
func BenchmarkCloseMonth(b *testing.B) {
	src, keys := benchLog(b)
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "town.db")
	copyFile(b, src, path)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	policies, cal := testenv.Policies(b)
	db, err := projections.OpenSQLite(ctx, filepath.Join(b.TempDir(), "rm.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	warm := benchVault(keys)
	eng, err := projections.New(projections.Config{DB: db, Store: s}, readmodels.AllOpened(policies, cal, cal.Location(), nil, warm)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	n, err := eng.CatchUp(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("every read model brought up to date: %d events in %v", n, time.Since(start))
	closer := func(v *keystore.Vault) *periodclose.Closer {
		cl, err := periodclose.New(periodclose.Config{Store: s, Coverage: pcoverage.NewReader(db, nil).WithOpener(v), Resolution: measures.NewReader(db, nil),
			Policies: policies, Calendar: cal, Clock: benchClock{time.Date(2026, 7, 1, 1, 0, 0, 0, cal.Location())}, From: "2026-01"})
		if err != nil {
			b.Fatal(err)
		}
		return cl
	}
	rounds := 2
	if v := os.Getenv("DOORSTEP_BENCH_ROUNDS"); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 || rounds > 6 {
			b.Fatalf("DOORSTEP_BENCH_ROUNDS=%q: want 1 to 6", v)
		}
	}
	b.ResetTimer()
	var coldSum, warmSum, rebuildSum time.Duration
	var colds, warms int
	for i := range rounds {
		month := time.Date(2026, time.Month(6-i), 1, 0, 0, 0, 0, cal.Location()).Format("2006-01")
		v, vault := warm, "warm"
		if i%2 == 0 {
			v, vault = benchVault(keys), "cold"
		}
		t0 := time.Now()
		w, err := closer(v).CloseMonth(ctx, month)
		if err != nil {
			b.Fatal(err)
		}
		cd := time.Since(t0)
		t0 = time.Now()
		ev, err := eng.Rebuild(ctx, 2000, nil, measures.Name, pcoverage.Name)
		if err != nil {
			b.Fatal(err)
		}
		rd := time.Since(t0)
		if w == 0 {
			b.Fatalf("the close of %s wrote no ledger", month)
		}
		if vault == "cold" {
			coldSum, colds = coldSum+cd, colds+1
		} else {
			warmSum, warms = warmSum+cd, warms+1
		}
		rebuildSum += rd
		b.Logf("round %d: close of %s with a %s vault (%d ledgers) %v | full rebuild of the measures and coverage read models (%d events) %v", i+1, month, vault, w, cd, ev, rd)
	}
	b.ReportMetric(coldSum.Seconds()/float64(colds), "close_cold_s")
	if warms > 0 {
		b.ReportMetric(warmSum.Seconds()/float64(warms), "close_warm_s")
	}
	b.ReportMetric(rebuildSum.Seconds()/float64(rounds), "rebuild_s")
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
