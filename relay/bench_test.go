package relay_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/internal/brokertest"
	"github.com/doorstep/doorstep/internal/latbench"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/relay"
)

func benchTarget(b *testing.B, kind string) string {
	switch kind {
	case "nats":
		return brokertest.NATSURL + "?stream=" + brokertest.Unique("DSBENCH_") + "&subject=" + brokertest.Unique("dsbench.")
	case "amqp":
		return brokertest.AMQPURL + "?exchange=" + brokertest.Unique("dsbench.x.")
	}
	b.Fatalf("unknown kind %s", kind)
	return ""
}

// cleanup deletes what a benchmark round created on the broker.
func cleanup(b *testing.B, t relay.Target) {
	switch t.Kind {
	case "nats":
		nc, err := nats.Connect(t.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		_ = js.DeleteStream(context.Background(), t.Stream)
	case "amqp":
		c, err := amqp.Dial(t.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ch, _ := c.Channel()
		_ = ch.ExchangeDelete(t.Exchange, false, false)
	}
}

// BenchmarkRelayThroughput publishes the same synthetic town (every event
// of the log, as the same CloudEvents) to the same broker two ways, in
// alternating order each round: through the relay (reading the log,
// encoding, publishing one event at a time with the broker's
// acknowledgement, writing checkpoints) and as raw Watermill publishing of
// the prepared messages with the same publisher configuration. One round
// per b.N; run with -benchtime=5x. Metrics: relay_ev/s, raw_ev/s,
// relay/raw (of the totals) and relay/raw_median (the median of the
// rounds' ratios).
func BenchmarkRelayThroughput(b *testing.B) {
	for _, kind := range []string{"nats", "amqp"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			env := testenv.New(b)
			writeTown(ctx, b, env.Store, 5, 100)
			log := readLog(ctx, b, env.Store)
			enc, _ := cloudevent.NewEncoder("urn:doorstep:bench", "http://127.0.0.1:8080")
			msgs := make([]*message.Message, len(log))
			for i := range log {
				m, err := relay.Message(enc, &log[i])
				if err != nil {
					b.Fatal(err)
				}
				msgs[i] = m
			}
			var relayTime, rawTime time.Duration
			var ratios []float64 // raw/relay time of each round's pair
			b.ResetTimer()
			for round := 0; round < b.N; round++ {
				relay0, raw0 := relayTime, rawTime
				raw := func() {
					t, _ := relay.ParseTarget(benchTarget(b, kind))
					start := time.Now()
					pub, err := relay.Connect(t, nil)
					if err != nil {
						b.Fatal(err)
					}
					for i := range log {
						m := message.NewMessage(msgs[i].UUID, msgs[i].Payload)
						m.Metadata = msgs[i].Metadata
						if err := pub.Publish(t.Topic(&log[i]), m); err != nil {
							b.Fatal(err)
						}
					}
					rawTime += time.Since(start)
					pub.Close()
					cleanup(b, t)
				}
				viaRelay := func() {
					t, _ := relay.ParseTarget(benchTarget(b, kind) + "&name=" + brokertest.Unique("b"))
					r, err := relay.New(relay.Config{Store: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Targets: []relay.Target{t},
						Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					if err := r.Init(ctx); err != nil {
						b.Fatal(err)
					}
					rctx, stop := context.WithCancel(ctx)
					done := make(chan error, 1)
					start := time.Now()
					go func() { done <- r.Run(rctx) }()
					if err := r.WaitFor(ctx, log[len(log)-1].Position); err != nil {
						b.Fatal(err)
					}
					relayTime += time.Since(start)
					stop()
					if err := <-done; err != nil {
						b.Fatal(err)
					}
					cleanup(b, t)
				}
				if round%2 == 0 {
					raw()
					viaRelay()
				} else {
					viaRelay()
					raw()
				}
				ratios = append(ratios, (rawTime-raw0).Seconds()/(relayTime-relay0).Seconds())
			}
			slices.Sort(ratios)
			n := float64(len(log) * b.N)
			b.ReportMetric(n/relayTime.Seconds(), "relay_ev/s")
			b.ReportMetric(n/rawTime.Seconds(), "raw_ev/s")
			b.ReportMetric(rawTime.Seconds()/relayTime.Seconds(), "relay/raw")
			// The median of the rounds' ratios: a stall of a shared machine
			// spoils one round's pair, not the figure.
			b.ReportMetric(ratios[len(ratios)/2], "relay/raw_median")
			b.ReportMetric(float64(len(log)), "events/round")
		})
	}
}

// BenchmarkRelayLatency appends one event every 1/300 s (300 commands per
// second, one event each, through the store's durable group commit) for
// b.N seconds while the relay publishes to the broker, and measures from
// just before each append to the arrival at an independent consumer (a
// JetStream ordered consumer; a RabbitMQ queue consumer). For RabbitMQ the
// same run also publishes each event raw through Watermill right after
// its append (raw_p50_ms …): the broker's own share. Run with
// -benchtime=10x (10 s). Metrics: p50_ms, p99_ms, max_ms.
func BenchmarkRelayLatency(b *testing.B) {
	for _, kind := range []string{"nats", "amqp"} {
		b.Run(kind, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := testenv.New(b)
			raw := benchTarget(b, kind)
			queue := ""
			if kind == "amqp" {
				queue = brokertest.Unique("dsbench.q.")
				raw += "&queue=" + queue
			}
			t, _ := relay.ParseTarget(raw)
			defer cleanup(b, t)
			rec := latbench.New()
			arrived := func(body []byte) { rec.ArrivedBody(kind, body) }
			switch kind {
			case "nats":
				nc, err := nats.Connect(t.URL)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				js, _ := jetstream.New(nc)
				// The relay creates the stream; create it first so that the
				// consumer can attach before the first event.
				if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: t.Stream, Subjects: []string{t.Subject + ".>"}, Duplicates: 2 * time.Minute}); err != nil {
					b.Fatal(err)
				}
				cons, err := js.OrderedConsumer(ctx, t.Stream, jetstream.OrderedConsumerConfig{})
				if err != nil {
					b.Fatal(err)
				}
				cc, err := cons.Consume(func(m jetstream.Msg) { arrived(m.Data()) })
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Stop()
			case "amqp":
				c, err := amqp.Dial(t.URL)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				ch, _ := c.Channel()
				if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
					b.Fatal(err)
				}
				defer ch.QueueDelete(queue, false, false, false)
				ds, err := ch.ConsumeWithContext(ctx, queue, "", true, false, false, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for d := range ds {
						arrived(d.Body)
					}
				}()
			}
			enc, _ := cloudevent.NewEncoder("urn:doorstep:bench", "http://127.0.0.1:8080")
			r, err := relay.New(relay.Config{Store: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Targets: []relay.Target{t},
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Init(ctx); err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			// RabbitMQ: beside the relay, raw Watermill publishing of a
			// message of the same size for each event, right after its
			// append, with the same publisher configuration (confirms,
			// persistent) to a durable queue of its own: what the broker
			// itself costs at that moment.
			var then func(string)
			paths := []string{kind}
			total := 300 * b.N
			if kind == "amqp" {
				rawQueue := brokertest.Unique("dsbench.rawq.")
				rt, _ := relay.ParseTarget(benchTarget(b, kind) + "&queue=" + rawQueue + "&name=raw")
				defer cleanup(b, rt)
				c, err := amqp.Dial(rt.URL)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				ch, _ := c.Channel()
				if _, err := ch.QueueDeclare(rawQueue, true, false, false, false, nil); err != nil {
					b.Fatal(err)
				}
				defer ch.QueueDelete(rawQueue, false, false, false)
				ds, err := ch.ConsumeWithContext(ctx, rawQueue, "", true, false, false, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for d := range ds {
						rec.ArrivedBody("amqp_raw", d.Body)
					}
				}()
				pub, err := relay.Connect(rt, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer pub.Close()
				ids := make(chan string, total)
				go func() {
					pad := strings.Repeat("x", 600) // about a CloudEvent's size
					for id := range ids {
						m := message.NewMessage(id, []byte(`{"id":"`+id+`","pad":"`+pad+`"}`))
						if err := pub.Publish("benchlat.noted", m); err != nil && ctx.Err() == nil {
							b.Error(err)
							return
						}
					}
				}()
				defer close(ids)
				then = func(id string) { ids <- id }
				paths = append(paths, "amqp_raw")
			}

			b.ResetTimer()
			last := rec.AppendThen(ctx, b, env.Store, 300, total, then)
			if err := r.WaitFor(ctx, last); err != nil {
				b.Fatal(err)
			}
			rec.Wait(total, paths...)
			b.StopTimer()
			cancel()
			<-done
			rec.Report(b, kind, "")
			if kind == "amqp" {
				rec.Report(b, "amqp_raw", "raw_")
			}
			b.ReportMetric(float64(total), "events")
		})
	}
}
