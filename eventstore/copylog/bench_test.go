package copylog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/copylog"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/town"
)

// seedTown writes the demo's 2,155-household town to a new SQLite store
// and returns it with its events.
func seedTown(b *testing.B) (*sqlite.Store, []eventstore.Event) {
	b.Helper()
	ctx := context.Background()
	src, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	cfg := town.DefaultConfig(1, town.SeedHouseholds)
	cfg.Sealer = xorSealer{}
	cfg.TempDir = b.TempDir()
	if _, err := town.Write(ctx, src, cfg); err != nil {
		b.Fatal(err)
	}
	var all []eventstore.Event
	var after eventstore.Position
	for {
		p, err := src.ReadAll(ctx, after, 5000)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, p...)
		if len(p) < 5000 {
			return src, all
		}
		after = p[len(p)-1].Position
	}
}

func freshSchema(b *testing.B, conn *pgx.Conn, name string) string {
	schema := fmt.Sprintf("%s_%d", name, time.Now().UnixNano())
	b.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return schema
}

// BenchmarkMigrateSeedTownToPostgres moves the demo town from SQLite to a
// fresh PostgreSQL schema with copylog.Copy, and in the same iteration
// writes the same events with PostgreSQL's COPY into the events table of
// another fresh schema: the raw floor of writing this data to this table.
// Reported: migrate-events/s (the copy phase, appends only),
// migrate+verify-events/s (the whole Copy, with the final comparison and
// chain verification) and raw-COPY-events/s.
//
// Two sub-benchmarks, run in turn (interleaved with -count): batch=1
// appends run by run, as before imports (decision 0083); batch=1000
// gathers runs into imports of up to 1,000 events (decision 0093).
func BenchmarkMigrateSeedTownToPostgres(b *testing.B) {
	src, all := seedTown(b)
	for _, batch := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchMigrateToPostgres(b, src, all, batch) })
	}
}

func benchMigrateToPostgres(b *testing.B, src eventstore.Store, all []eventstore.Event, batch int) {
	ctx := context.Background()
	conn := pgtest.Connect(b)
	rows := make([][]any, len(all))
	for i := range all {
		e := &all[i]
		m := &e.Metadata
		rows[i] = []any{int32(i), e.ID, e.Stream, int64(e.Version), e.Type, int32(e.SchemaVersion), []byte(e.Data),
			eventstore.UnixNanos(m.OccurredAt), m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID,
			m.Community, m.Grid, m.KeyID, eventstore.UnixNanos(e.RecordedAt), e.Hash[:]}
	}
	cols := []string{"seq", "id", "stream", "version", "type", "schema_version", "data", "occurred_at", "actor", "role",
		"command_id", "correlation_id", "causation_id", "community", "grid", "key_id", "recorded_at", "hash"}
	var copyPhase, whole, raw time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clk := &copylog.Clock{}
		dst, err := postgres.Open(ctx, postgres.Config{URL: pgtest.SharedURL(), Schema: freshSchema(b, conn, "bench_migrate"), Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		rawSchema := freshSchema(b, conn, "bench_copy")
		rawStore, err := postgres.Open(ctx, postgres.Config{URL: pgtest.SharedURL(), Schema: rawSchema})
		if err != nil {
			b.Fatal(err)
		}
		rawStore.Close()
		b.StartTimer()
		start := time.Now()
		var verifyAt time.Time
		res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{MaxBatch: batch, Progress: func(phase string, _ int) {
			if phase == "verify" && verifyAt.IsZero() {
				verifyAt = time.Now()
			}
		}})
		end := time.Now()
		if err != nil || res.Events != len(all) {
			b.Fatalf("copy: %d events, %v", res.Events, err)
		}
		copyPhase += verifyAt.Sub(start)
		whole += end.Sub(start)
		t0 := time.Now()
		n, err := conn.CopyFrom(ctx, pgx.Identifier{rawSchema, "events"}, cols, pgx.CopyFromRows(rows))
		raw += time.Since(t0)
		if err != nil || int(n) != len(all) {
			b.Fatalf("COPY: %d rows, %v", n, err)
		}
		b.StopTimer()
		dst.Close()
		b.StartTimer()
	}
	ev := float64(len(all) * b.N)
	b.ReportMetric(ev/copyPhase.Seconds(), "migrate-events/s")
	b.ReportMetric(ev/whole.Seconds(), "migrate+verify-events/s")
	b.ReportMetric(ev/raw.Seconds(), "raw-COPY-events/s")
	b.ReportMetric(float64(len(all)), "events")
}

// BenchmarkMigrateSeedTownToInProcessESDB moves the demo town to the
// in-process EventStoreDB protocol server (esdbtest) and verifies it. The
// rate is that of this backend's client calls against a test server in
// the same process: it is not a figure of EventStoreDB.
func BenchmarkMigrateSeedTownToInProcessESDB(b *testing.B) {
	ctx := context.Background()
	src, all := seedTown(b)
	var whole time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		srv, err := esdbtest.Start(nil)
		if err != nil {
			b.Fatal(err)
		}
		clk := &copylog.Clock{}
		dst, err := esdb.Open(ctx, esdb.Config{URL: srv.URL(), Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{})
		whole += time.Since(start)
		if err != nil || res.Events != len(all) {
			b.Fatalf("copy: %d events, %v", res.Events, err)
		}
		b.StopTimer()
		dst.Close()
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(all)*b.N)/whole.Seconds(), "migrate+verify-events/s")
	b.ReportMetric(float64(len(all)), "events")
}
