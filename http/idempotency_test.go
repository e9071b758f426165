package http

import (
	"fmt"
	nethttp "net/http"
	"testing"
	"time"
)

func TestIdempotencyExpiresAndIsBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := newIdempotency(time.Hour, 3, 1<<20, 1<<10, func() time.Time { return now })
	for i := range 5 {
		k := fmt.Sprint("k", i)
		if prev, err := m.begin(k, "fp"); prev != nil || err != nil {
			t.Fatalf("begin %s: %v %v", k, prev, err)
		}
		m.finish(k, 200, nethttp.Header{}, []byte(k), true)
	}
	if len(m.m) != 3 {
		t.Fatalf("%d entries kept, want 3", len(m.m))
	}
	if prev, _ := m.begin("k4", "fp"); prev == nil || string(prev.body) != "k4" {
		t.Fatalf("newest entry lost: %v", prev)
	}
	if prev, err := m.begin("k0", "fp"); prev != nil || err != nil {
		t.Fatalf("oldest entry should have been evicted: %v %v", prev, err)
	}
	now = now.Add(2 * time.Hour)
	if prev, err := m.begin("k4", "fp"); prev != nil || err != nil {
		t.Fatalf("expired entry replayed: %v %v", prev, err)
	}
	// A failure a retry may fix releases the key.
	m.finish("k4", 503, nethttp.Header{}, nil, true)
	if prev, err := m.begin("k4", "other"); prev != nil || err != nil {
		t.Fatalf("released key: %v %v", prev, err)
	}
	if _, err := m.begin("k4", "other"); err == nil {
		t.Fatal("a key in flight was claimed twice")
	}
}

// Issue 13 item 2: the cache is bounded in bytes, and an answer over the
// per-entry cap is never kept (only its fingerprint).
func TestIdempotencyByteBudget(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := newIdempotency(time.Hour, 1000, 20_000, 2_000, func() time.Time { return now })
	for i := range 100 {
		k := fmt.Sprint("k", i)
		if _, err := m.begin(k, "fp"); err != nil {
			t.Fatal(err)
		}
		m.finish(k, 400, nethttp.Header{}, make([]byte, 1500), true)
		if b, _ := m.stats(); b > 20_000 {
			t.Fatalf("after %d answers the cache holds %d bytes, over its budget of 20000", i+1, b)
		}
	}
	if prev, _ := m.begin("k99", "fp"); prev == nil || len(prev.body) != 1500 {
		t.Fatal("the newest answer was not kept")
	}
	// Too large to keep: the fingerprint is remembered, the answer is not.
	if _, err := m.begin("big", "fp"); err != nil {
		t.Fatal(err)
	}
	m.finish("big", 200, nethttp.Header{}, make([]byte, 2001), true)
	if prev, err := m.begin("big", "other"); prev != nil || err == nil {
		t.Fatalf("another request under a key whose answer was too large: %v %v", prev, err)
	}
	if prev, err := m.begin("big", "fp"); prev != nil || err != nil {
		t.Fatalf("a retry of an answer too large to keep must run again: %v %v", prev, err)
	}
	m.finish("big", 200, nethttp.Header{}, nil, false) // not captured whole
	if prev, err := m.begin("big", "fp"); prev != nil || err != nil {
		t.Fatalf("an answer not captured whole was replayed: %v %v", prev, err)
	}
	for _, e := range m.m {
		if e.done && !e.stored && e.body != nil {
			t.Fatal("an entry too large keeps its body")
		}
	}
}
