package logchain_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/logchain"
	"github.com/doorstep/doorstep/town"
)

// benchTown opens the demo town (2,155 households, seed 1) in an embedded
// store, with one signed head at its end. The store is generated once and
// kept in the temporary directory (DOORSTEP_BENCH_TOWN names another
// path), so that the two benchmarks can be run in turn, interleaved.
func benchTown(b *testing.B) (eventstore.Store, ed25519.PublicKey) {
	b.Helper()
	ctx := context.Background()
	path := os.Getenv("DOORSTEP_BENCH_TOWN")
	if path == "" {
		path = filepath.Join(os.TempDir(), "doorstep-logchain-bench-town.db")
	}
	keyPath := path + ".key.pem"
	_, err := os.Stat(keyPath)
	fresh := err != nil
	if fresh {
		os.Remove(path)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if fresh {
		cfg := town.Seed2155(1)
		cfg.Sealer = sim.NewKeys()
		if _, err := town.Write(ctx, s, cfg); err != nil {
			b.Fatal(err)
		}
		priv, pub, err := logchain.GenerateKey()
		if err != nil {
			b.Fatal(err)
		}
		_ = os.WriteFile(keyPath+".pub", pub, 0o600)
		if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
			b.Fatal(err)
		}
		k, err := logchain.LoadPrivateKey(keyPath)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := (&logchain.Signer{Store: s, Key: k}).Sign(ctx); err != nil {
			b.Fatal(err)
		}
	}
	pub, err := logchain.LoadPublicKey(keyPath + ".pub")
	if err != nil {
		b.Fatal(err)
	}
	return s, pub
}

// BenchmarkVerifyTown compares verify before the global chain (every
// stream's chain, eventstore.VerifyAll) and after (logchain.Verify: the
// same, the global chain and the signed heads).
func BenchmarkVerifyTown(b *testing.B) {
	s, pub := benchTown(b)
	ctx := context.Background()
	b.Run("streams-only", func(b *testing.B) {
		for b.Loop() {
			n, err := eventstore.VerifyAll(ctx, s, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n), "events")
		}
	})
	b.Run("global-chain", func(b *testing.B) {
		for b.Loop() {
			rep, err := logchain.Verify(ctx, s, logchain.VerifyConfig{Keys: []ed25519.PublicKey{pub}})
			if err != nil || rep.Heads != 1 {
				b.Fatal(rep, err)
			}
			b.ReportMetric(float64(rep.Events), "events")
		}
	})
}

// BenchmarkLink is the work the global chain adds per event.
func BenchmarkLink(b *testing.B) {
	e := &eventstore.Event{ID: eventstore.NewID(), Stream: "household-demo-zhang", Version: 12, Position: eventstore.Position{Lo: 60000}}
	var c logchain.Chain
	for b.Loop() {
		c.Add(e)
	}
}
