package readmodels_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorstep/doorstep/closing"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/readmodels"
)

type benchClock struct{ t time.Time }

func (c benchClock) Now() time.Time { return c.t }

// BenchmarkCloseMonth closes June 2026 on the generated town (issue 15
// item 5: under 10 s at 100,000 households), side by side with the full
// rebuild of every read model it reads from. The log is copied first, so
// the cached town stays unclosed.
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
	eng, err := projections.New(projections.Config{DB: db, Store: s}, readmodels.All(policies, cal, cal.Location())...)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	n, err := eng.Rebuild(ctx, 2000, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuild of every read model: %d events in %v", n, time.Since(start))
	b.ReportMetric(time.Since(start).Seconds(), "rebuild_s")
	cl, err := closing.New(closing.Config{Store: s, Coverage: pcoverage.NewReader(db, nil), Resolution: measures.NewReader(db, nil),
		Policies: policies, Calendar: cal, Clock: benchClock{time.Date(2026, 7, 1, 1, 0, 0, 0, cal.Location())}, From: "2026-06"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start = time.Now()
	rep, err := pcoverage.NewReader(db, nil).Report(ctx, policies.Current(), cal.Location(), "2026-06", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("coverage report alone: %d households due in %v", rep.Street.All.Due, time.Since(start))
	start = time.Now()
	w, err := cl.CloseMonth(ctx, "2026-06")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("close of 2026-06: %d ledgers in %v", w, time.Since(start))
	b.ReportMetric(time.Since(start).Seconds(), "close_s")
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
