// Package latbench measures, for the relay's and the webhooks' benchmarks,
// the time from appending an event to its arrival at an outside consumer
// (a JetStream consumer, a RabbitMQ queue, a webhook receiver): the events
// are appended at a steady pace through the store's durable group commit,
// each consumer reports the CloudEvent ids it receives, and the figures
// are the percentiles per path.
package latbench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// Recorder holds the send time of each appended event and the latencies
// of their arrivals, per path. Safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	changed *sync.Cond
	sent    map[string]time.Time
	lat     map[string][]time.Duration
	got     map[string]map[string]bool // path → ids arrived (a redelivery counts once)
}

// New returns an empty recorder.
func New() *Recorder {
	r := &Recorder{sent: map[string]time.Time{}, lat: map[string][]time.Duration{}, got: map[string]map[string]bool{}}
	r.changed = sync.NewCond(&r.mu)
	return r
}

// Arrived records that the event id reached path now; ids the recorder did
// not append (other tests' events) and redeliveries are ignored.
func (r *Recorder) Arrived(path, id string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sent[id]
	if !ok || r.got[path][id] {
		return
	}
	if r.got[path] == nil {
		r.got[path] = map[string]bool{}
	}
	r.got[path][id] = true
	r.lat[path] = append(r.lat[path], now.Sub(s))
	r.changed.Broadcast()
}

// ArrivedBody is Arrived with the id read from a structured-mode
// CloudEvent body.
func (r *Recorder) ArrivedBody(path string, body []byte) {
	var h struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &h)
	r.Arrived(path, h.ID)
}

// Append appends n events, one every 1/perSecond s, to 50 streams of store
// (each "benchlat.noted"), noting each send time just before its append;
// it returns the position of the last.
func (r *Recorder) Append(ctx context.Context, b *testing.B, store eventstore.Store, perSecond, n int) eventstore.Position {
	return r.AppendThen(ctx, b, store, perSecond, n, nil)
}

// AppendThen is Append, calling then (when not nil) with each event's id
// once it is appended: a benchmark may publish it another way at once.
func (r *Recorder) AppendThen(ctx context.Context, b *testing.B, store eventstore.Store, perSecond, n int, then func(id string)) eventstore.Position {
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	var last eventstore.Position
	for i := range n {
		<-tick.C
		id := eventstore.NewID()
		r.mu.Lock()
		r.sent[id.String()] = time.Now()
		r.mu.Unlock()
		res, err := store.Append(ctx, fmt.Sprintf("benchlat-%d", i%50), eventstore.Any(),
			eventstore.EventData{ID: id, Type: "benchlat.noted", Data: json.RawMessage(`{"n":1}`),
				Metadata: eventstore.Metadata{OccurredAt: time.Now()}})
		if err != nil {
			b.Fatal(err)
		}
		last = res.LastPosition
		if then != nil {
			then(id.String())
		}
	}
	return last
}

// Wait blocks until each path has n arrivals.
func (r *Recorder) Wait(n int, paths ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for !r.reached(n, paths) {
		r.changed.Wait()
	}
}

func (r *Recorder) reached(n int, paths []string) bool {
	for _, p := range paths {
		if len(r.lat[p]) < n {
			return false
		}
	}
	return true
}

// Report reports each path's p50, p99 and maximum in milliseconds, as
// prefix+"p50_ms" and so on (prefix "" for one path, "webhook_" …).
func (r *Recorder) Report(b *testing.B, path, prefix string) {
	r.mu.Lock()
	l := slices.Clone(r.lat[path])
	r.mu.Unlock()
	if len(l) == 0 {
		b.Fatalf("no event reached %s", path)
	}
	slices.Sort(l)
	q := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), prefix+"p50_ms")
	b.ReportMetric(q(0.99), prefix+"p99_ms")
	b.ReportMetric(float64(l[len(l)-1].Microseconds())/1000, prefix+"max_ms")
}
