package town

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore/sqlite"
)

// Benchmarks report households/s and events/s (and the sampled peak heap
// when generating):
//
//	go test -run '^$' -bench Seed2155 -benchtime 3x ./town/
//
// The 100k-household town takes minutes and gigabytes of temporary disk; its
// benchmarks are built only with the tag "large" (bench_large_test.go):
//
//	go test -tags large -run '^$' -bench Town100k -benchtime 1x -timeout 60m ./town/

func benchGenerate(b *testing.B, n int) {
	cfg := testConfig(b, 1, n)
	cfg.TempDir = b.TempDir()
	var st Stats
	stop := sampleHeap()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var err error
		st, err = Generate(context.Background(), cfg, func(Batch) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	report(b, st, d, stop())
}

// sampleHeap samples the live heap every 50 ms until the returned function
// is called; that function returns the largest sample.
func sampleHeap() func() uint64 {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				peak = max(peak, heapInUse())
			case <-done:
				res <- max(peak, heapInUse())
				return
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}

func benchWrite(b *testing.B, n int) {
	cfg := testConfig(b, 1, n)
	cfg.TempDir = b.TempDir()
	var st Stats
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), fmt.Sprintf("town-%d.db", i))})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		st, err = Write(context.Background(), store, cfg)
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	report(b, st, total, 0)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func report(b *testing.B, st Stats, d time.Duration, peak uint64) {
	per := d.Seconds() / float64(b.N)
	b.ReportMetric(float64(st.Households)/per, "households/s")
	b.ReportMetric(float64(st.Events)/per, "events/s")
	b.ReportMetric(float64(st.Events), "events")
	if peak > 0 {
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
}

func BenchmarkGenerateSeed2155(b *testing.B)    { benchGenerate(b, SeedHouseholds) }
func BenchmarkWriteSQLiteSeed2155(b *testing.B) { benchWrite(b, SeedHouseholds) }
