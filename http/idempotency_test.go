package http

import (
	"fmt"
	nethttp "net/http"
	"testing"
	"time"
)

func TestIdempotencyExpiresAndIsBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := newIdempotency(time.Hour, 3, func() time.Time { return now })
	for i := range 5 {
		k := fmt.Sprint("k", i)
		if prev, err := m.begin(k, "fp"); prev != nil || err != nil {
			t.Fatalf("begin %s: %v %v", k, prev, err)
		}
		m.finish(k, 200, nethttp.Header{}, []byte(k))
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
	m.finish("k4", 503, nethttp.Header{}, nil)
	if prev, err := m.begin("k4", "other"); prev != nil || err != nil {
		t.Fatalf("released key: %v %v", prev, err)
	}
	if _, err := m.begin("k4", "other"); err == nil {
		t.Fatal("a key in flight was claimed twice")
	}
}
