package readmodels_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/readmodels"
	"github.com/doorstep/doorstep/town"
)

// benchLog returns the path of an events file holding the generated town
// (package town) of DOORSTEP_BENCH_HOUSEHOLDS households (default 100,000,
// the Town100k preset), and the key store its sensitive fields (the
// households' classes among them) were sealed with: the product's, a file
// key store beside the events file whose keys are wrapped under a KEK
// (benchVault opens it as doorstep serve does). It is built once into
// DOORSTEP_BENCH_DIR when set (and reused by later runs), else into a
// temporary directory for this run.
func benchLog(b *testing.B) (string, keystore.KeyStore) {
	b.Helper()
	n := 100_000
	if s := os.Getenv("DOORSTEP_BENCH_HOUSEHOLDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1_000_000 {
			b.Fatalf("DOORSTEP_BENCH_HOUSEHOLDS=%q: want 1 to 1000000", s)
		}
		n = v
	}
	dir := os.Getenv("DOORSTEP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "town-"+strconv.Itoa(n)+"-vault.db")
	keyDir := path + ".keys"
	ring, err := keystore.NewKEKRing(bytes.Repeat([]byte{0x5a}, keystore.KEKSize))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(path + ".complete"); err == nil {
		fs, err := keystore.OpenFileStore(keyDir)
		if err != nil {
			b.Fatal(err)
		}
		return path, keystore.WithKEK(fs, ring)
	}
	os.Remove(path)
	os.RemoveAll(keyDir)
	fs, err := keystore.OpenFileStore(keyDir)
	if err != nil {
		b.Fatal(err)
	}
	keys := keystore.WithKEK(fs, ring)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	cfg := town.DefaultConfig(100, n) // town.Town100k(100) at the default size
	cfg.Sealer, cfg.TempDir = benchVault(keys), dir
	st, err := town.Write(ctx, s, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated the town of %d households, %d events in %v", st.Households, st.Events, time.Since(start))
	if err := os.WriteFile(path+".complete", nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return path, keys
}

// benchVault is a key vault over keys configured as doorstep serve's
// embedded runtime configures it (cmd/doorstep runtime_embedded.go: the
// default keystore.Config), with an empty cache.
func benchVault(keys keystore.KeyStore) *keystore.Vault {
	return keystore.New(keys, keystore.Config{})
}

// BenchmarkRebuild reports, over the same log, the raw rate of reading and
// decoding it (ReadAll + domain decode: the limit) and the rate of a full
// rebuild of every read model.
func BenchmarkRebuild(b *testing.B) {
	path, keys := benchLog(b)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	reg := domain.NewRegistry()

	b.Run("raw_read_decode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			var after eventstore.Position
			n := 0
			for {
				page, err := s.ReadAll(ctx, after, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := projections.Decode(reg, page); err != nil {
					b.Fatal(err)
				}
				n += len(page)
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].Position
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		}
	})

	policies, cal := testenv.Policies(b)
	all := readmodels.AllOpened(policies, cal, cal.Location(), nil, benchVault(keys))
	rebuild := func(b *testing.B, ps ...projections.Projection) {
		db, err := projections.OpenSQLite(ctx, filepath.Join(b.TempDir(), "rm.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		eng, err := projections.New(projections.Config{DB: db, Store: s}, ps...)
		if err != nil {
			b.Fatal(err)
		}
		if err := eng.Init(ctx); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			start := time.Now()
			n, err := eng.Rebuild(ctx, 2000, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		}
	}
	b.Run("rebuild_all", func(b *testing.B) { rebuild(b, all...) })
	if os.Getenv("DOORSTEP_BENCH_EACH") != "" {
		for _, p := range all {
			b.Run("rebuild_"+p.Name(), func(b *testing.B) { rebuild(b, p) })
		}
	}
}
