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
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
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
func BenchmarkCloseMonth(b *testing.B) {
	src := benchLog(b)
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
	eng, err := projections.New(projections.Config{DB: db, Store: s}, readmodels.AllOpened(policies, cal, cal.Location(), nil, sim.NewKeys())...)
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
	cl, err := periodclose.New(periodclose.Config{Store: s, Coverage: pcoverage.NewReader(db, nil).WithOpener(sim.NewKeys()), Resolution: measures.NewReader(db, nil),
		Policies: policies, Calendar: cal, Clock: benchClock{time.Date(2026, 7, 1, 1, 0, 0, 0, cal.Location())}, From: "2026-01"})
	if err != nil {
		b.Fatal(err)
	}
	rounds := 2
	if v := os.Getenv("DOORSTEP_BENCH_ROUNDS"); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 || rounds > 6 {
			b.Fatalf("DOORSTEP_BENCH_ROUNDS=%q: want 1 to 6", v)
		}
	}
	b.ResetTimer()
	var closeSum, rebuildSum time.Duration
	for i := range rounds {
		month := time.Date(2026, time.Month(6-i), 1, 0, 0, 0, 0, cal.Location()).Format("2006-01")
		t0 := time.Now()
		w, err := cl.CloseMonth(ctx, month)
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
		closeSum, rebuildSum = closeSum+cd, rebuildSum+rd
		b.Logf("round %d: close of %s (%d ledgers) %v | full rebuild of the measures and coverage read models (%d events) %v", i+1, month, w, cd, ev, rd)
	}
	b.ReportMetric(closeSum.Seconds()/float64(rounds), "close_s")
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
