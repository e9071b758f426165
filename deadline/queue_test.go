package deadline

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// The queue agrees with a plain map model under random sets, moves and removals.
func TestQueueAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	q := NewQueue()
	model := map[Key]int64{}
	base := time.Unix(1_700_000_000, 0)
	for i := 0; i < 20000; i++ {
		k := Key{Stream: fmt.Sprintf("problem-%d", r.IntN(500)), Kind: domain.ClockProblemResponse}
		switch r.IntN(3) {
		case 0, 1:
			at := base.Add(time.Duration(r.IntN(1e6)) * time.Second)
			q.Set(k, at, at)
			model[k] = at.UnixNano()
		case 2:
			q.Remove(k)
			delete(model, k)
		}
		if q.Len() != len(model) {
			t.Fatalf("step %d: len %d, model %d", i, q.Len(), len(model))
		}
		if i%1000 == 999 {
			cut := base.Add(time.Duration(r.IntN(1e6)) * time.Second)
			got := q.PopUntil(cut)
			var want []int64
			for k, at := range model {
				if at <= cut.UnixNano() {
					want = append(want, at)
					delete(model, k)
				}
			}
			slices.Sort(want)
			if len(got) != len(want) {
				t.Fatalf("PopUntil: %d keys, want %d", len(got), len(want))
			}
		}
	}
}

func TestFireAt(t *testing.T) {
	due := time.Date(2026, 5, 6, 12, 0, 0, 0, time.UTC)
	d := domain.Deadline{Due: due, Approaching: due.Add(-4 * time.Hour)}
	if at, ok := FireAt(d); !ok || !at.Equal(d.Approaching) {
		t.Errorf("fresh deadline fires at %v", at)
	}
	d.Approached = true
	if at, ok := FireAt(d); !ok || !at.After(due) {
		t.Errorf("warned deadline fires at %v", at)
	}
	if st, ok := d.Pending(due.Add(time.Nanosecond)); !ok || st != domain.StageBreached {
		t.Error("the fire instant is not a breach for the domain")
	}
	d.Breached = true
	if _, ok := FireAt(d); ok {
		t.Error("a breached deadline still fires")
	}
}

// BenchmarkQueueMillion holds 1,000,000 open deadlines and reports the
// memory they take and the delay between a deadline's instant and its
// detection by a loop sleeping until the queue's next instant (real clock).
func BenchmarkQueueMillion(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		keys := make([]Key, n)
		for j := range keys {
			keys[j] = Key{Stream: fmt.Sprintf("problem-0192f3a4-%07d", j), Kind: domain.ClockProblemResponse}
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		q := NewQueue()
		now := time.Now()
		r := rand.New(rand.NewPCG(3, 4))
		start := time.Now()
		for _, k := range keys {
			at := now.Add(time.Hour + time.Duration(r.IntN(1e9))*time.Second/1000)
			q.Set(k, at, at)
		}
		insert := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		bytes := float64(m1.HeapAlloc - m0.HeapAlloc)
		// Move 200 of them to fall due during the next 500 ms.
		now = time.Now()
		for j := 0; j < 200; j++ {
			at := now.Add(100*time.Millisecond + time.Duration(j)*2*time.Millisecond)
			q.Set(keys[j*4999], at, at)
		}
		var worst, total time.Duration
		seen := 0
		for seen < 200 {
			next, _ := q.Next()
			time.Sleep(time.Until(next))
			at := time.Now()
			for _, k := range q.PopUntil(at) {
				_ = k
				seen++
			}
			d := at.Sub(next)
			total += d
			worst = max(worst, d)
		}
		b.ReportMetric(bytes/n, "B/deadline")
		b.ReportMetric(bytes/(1<<20), "MiB-total")
		b.ReportMetric(float64(insert.Nanoseconds())/n, "ns/insert")
		b.ReportMetric(float64(worst.Microseconds())/1000, "ms-max-detection-delay")
		runtime.KeepAlive(keys)
		runtime.KeepAlive(q)
	}
}
