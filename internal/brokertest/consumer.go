// Package brokertest helps the tests of the broker relay: an independent
// consumer, as an integrator would write it (the brokers' own Go clients,
// nats.go and amqp091-go, and the CloudEvents Go SDK to parse each message;
// it knows nothing of package relay), the check that what arrived is the
// log, and a private NATS server that a test may stop and start.
package brokertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Received is what a consumer collected: every message in arrival order,
// parsed.
type Received struct {
	mu     sync.Mutex
	events []cloudevents.Event
	bad    []string
	more   chan struct{} // closed and replaced at each message
}

func newReceived() *Received { return &Received{more: make(chan struct{})} }

func (r *Received) add(contentType string, body []byte) {
	var ev cloudevents.Event
	err := json.Unmarshal(body, &ev)
	if err == nil {
		err = ev.Validate()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.bad = append(r.bad, fmt.Sprintf("unparsable CloudEvent (%v): %.200s", err, body))
	case !strings.HasPrefix(contentType, "application/cloudevents+json"):
		r.bad = append(r.bad, fmt.Sprintf("event %s has content type %q, want application/cloudevents+json", ev.ID(), contentType))
	default:
		r.events = append(r.events, ev)
	}
	close(r.more)
	r.more = make(chan struct{})
}

// Snapshot returns the events so far, the parse failures, and a channel
// closed at the next message.
func (r *Received) Snapshot() ([]cloudevents.Event, []string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloudevents.Event(nil), r.events...), append([]string(nil), r.bad...), r.more
}

// UniqueIDs counts the distinct ids received.
func (r *Received) UniqueIDs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for i := range r.events {
		seen[r.events[i].ID()] = true
	}
	return len(seen)
}

// WaitUnique waits until n distinct ids arrived; it fails the test when
// ctx ends first, or a message does not parse.
func (r *Received) WaitUnique(ctx context.Context, tb testing.TB, n int) {
	tb.Helper()
	if err := r.Wait(ctx, n); err != nil {
		tb.Fatal(err)
	}
}

// Wait waits until n distinct ids arrived, and says why not when ctx ends
// first or a message does not parse.
func (r *Received) Wait(ctx context.Context, n int) error {
	for {
		_, bad, more := r.Snapshot()
		if len(bad) > 0 {
			return fmt.Errorf("consumer: %s", bad[0])
		}
		got := r.UniqueIDs()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consumer: %d distinct events of %d arrived before the test's deadline", got, n)
		case <-more:
		}
	}
}

// ConsumeNATS reads every message of a JetStream stream from its start
// with an ordered consumer, until ctx ends.
func ConsumeNATS(ctx context.Context, tb testing.TB, url, stream string) *Received {
	tb.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		tb.Fatalf("consumer: connect to NATS at %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	r := newReceived()
	go func() {
		for ctx.Err() == nil {
			cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
			if err != nil { // the stream is not there yet, or the server restarts
				select {
				case <-ctx.Done():
				case <-nc.StatusChanged(nats.CONNECTED):
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			cc, err := cons.Consume(func(m jetstream.Msg) {
				r.add(m.Headers().Get("Content-Type"), m.Data())
			})
			if err != nil {
				continue
			}
			<-ctx.Done()
			cc.Stop()
		}
	}()
	return r
}

// ConsumeAMQP reads every message of a RabbitMQ queue, until ctx ends.
func ConsumeAMQP(ctx context.Context, tb testing.TB, url, queue string) *Received {
	tb.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		tb.Fatalf("consumer: connect to RabbitMQ at %s: %v", url, err)
	}
	tb.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c, err := amqp.Dial(url)
		if err == nil {
			if ch, err := c.Channel(); err == nil {
				_, _ = ch.QueueDelete(queue, false, false, false)
			}
			c.Close()
		}
	})
	deliveries, err := ch.ConsumeWithContext(ctx, queue, "", true, false, false, false, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := newReceived()
	go func() {
		for d := range deliveries {
			r.add(d.ContentType, d.Body)
		}
	}()
	return r
}
