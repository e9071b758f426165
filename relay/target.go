package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
)

// Target says where a relay publishes: a broker URL with Doorstep's
// options in its query, parsed by ParseTarget.
//
//	nats://127.0.0.1:4222?stream=DOORSTEP&subject=doorstep.events
//	amqp://guest:guest@127.0.0.1:5672/?exchange=doorstep.events&queue=doorstep.warehouse
//
// NATS (JetStream): every event goes to subject <subject>.<category> (e.g.
// doorstep.events.household) of the stream <stream>, created with the
// subjects <subject>.> when missing. RabbitMQ: every event goes to the
// durable topic exchange <exchange> with routing key <category>.<type>
// (e.g. household.visit.recorded); queue, when given, is a durable queue the
// relay declares and binds to every key, so that nothing published before an
// integrator first connects is lost. name (default "nats" or "amqp") names
// the target's checkpoint and metrics; two targets need two names.
type Target struct {
	Kind     string // "nats" or "amqp"
	Name     string
	URL      string // the broker URL without Doorstep's query options
	Stream   string // NATS
	Subject  string // NATS
	Exchange string // AMQP
	Queue    string // AMQP, optional
}

// Defaults of the target options.
const (
	DefaultStream   = "DOORSTEP"
	DefaultSubject  = "doorstep.events"
	DefaultExchange = "doorstep.events"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)
	streamRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	subjectRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$`)
	amqpRE    = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,200}$`)
)

// ParseTarget parses a -relay URL. Its errors say what is wrong and how to
// write it, in English and Chinese.
func ParseTarget(raw string) (Target, error) {
	bad := func(why string) (Target, error) {
		return Target{}, fmt.Errorf("relay target %q: %s; write nats://host:4222?stream=DOORSTEP&subject=doorstep.events or amqp://user:pass@host:5672/?exchange=doorstep.events / 中继目标无效", redact(raw), why)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return bad("not a broker URL")
	}
	q := u.Query()
	t := Target{Name: q.Get("name")}
	known := map[string]bool{"name": true}
	switch u.Scheme {
	case "nats":
		t.Kind = "nats"
		t.Stream, t.Subject = orDefault(q.Get("stream"), DefaultStream), orDefault(q.Get("subject"), DefaultSubject)
		known["stream"], known["subject"] = true, true
		if !streamRE.MatchString(t.Stream) {
			return bad("stream must be 1–64 letters, digits, '_' or '-'")
		}
		if !subjectRE.MatchString(t.Subject) {
			return bad("subject must be dot-separated tokens of letters, digits, '_' or '-' (no wildcards)")
		}
	case "amqp", "amqps":
		t.Kind = "amqp"
		t.Exchange, t.Queue = orDefault(q.Get("exchange"), DefaultExchange), q.Get("queue")
		known["exchange"], known["queue"] = true, true
		if !amqpRE.MatchString(t.Exchange) || strings.HasPrefix(t.Exchange, "amq.") {
			return bad("exchange must be 1–200 letters, digits, '_', '.', ':' or '-', not starting with amq.")
		}
		if t.Queue != "" && (!amqpRE.MatchString(t.Queue) || strings.HasPrefix(t.Queue, "amq.")) {
			return bad("queue must be 1–200 letters, digits, '_', '.', ':' or '-', not starting with amq.")
		}
	default:
		return bad(fmt.Sprintf("scheme %q is not supported (nats or amqp)", u.Scheme))
	}
	if t.Name == "" {
		t.Name = t.Kind
	}
	if !nameRE.MatchString(t.Name) {
		return bad("name must be 1–40 lower-case letters, digits, '_' or '-', starting with a letter")
	}
	for k := range q {
		if known[k] {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	t.URL = u.String()
	return t, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// String describes the target without its password.
func (t Target) String() string {
	s := t.Kind + " " + redact(t.URL)
	if t.Kind == "nats" {
		return s + " stream " + t.Stream + " subject " + t.Subject + ".>"
	}
	s += " exchange " + t.Exchange
	if t.Queue != "" {
		s += " queue " + t.Queue
	}
	return s
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Topic returns the Watermill topic of ev on this target: the NATS subject
// or the AMQP routing key.
func (t Target) Topic(ev *eventstore.Event) string {
	if t.Kind == "nats" {
		return t.Subject + "." + ev.Category()
	}
	return ev.Category() + "." + ev.Type
}

// Message returns the Watermill message the relay publishes for ev: the
// structured-mode CloudEvent as payload, the event id as UUID (the NATS
// message id, the AMQP message-id), the CloudEvents type in the metadata.
func Message(enc *cloudevent.Encoder, ev *eventstore.Event) (*message.Message, error) {
	body, err := enc.Structured(ev)
	if err != nil {
		return nil, err
	}
	m := message.NewMessage(ev.ID.String(), body)
	m.Metadata.Set(metaType, cloudevent.Type(ev.Type, ev.SchemaVersion))
	return m, nil
}

const metaType = "ce_type"

// natsMarshaler writes a structured-mode CloudEvent as the CloudEvents NATS
// binding says: the body is the event in JSON, Content-Type says so. The
// event id is also the JetStream message id (Nats-Msg-Id), so the server
// drops a re-publication within its duplicate window.
type natsMarshaler struct{}

func (natsMarshaler) Marshal(topic string, msg *message.Message) (*nats.Msg, error) {
	h := nats.Header{}
	h.Set("Content-Type", cloudevent.ContentType)
	h.Set(nats.MsgIdHdr, msg.UUID)
	return &nats.Msg{Subject: topic, Data: msg.Payload, Header: h}, nil
}

// amqpMarshaler writes a structured-mode CloudEvent as the CloudEvents AMQP
// binding says for structured mode: the body is the event in JSON and the
// content-type property says so; message-id is the event id; persistent.
type amqpMarshaler struct{}

func (amqpMarshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	return amqp.Publishing{ContentType: cloudevent.ContentType, MessageId: msg.UUID, Type: msg.Metadata.Get(metaType),
		DeliveryMode: amqp.Persistent, Body: msg.Payload}, nil
}

func (amqpMarshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	m := message.NewMessage(d.MessageId, d.Body)
	m.Metadata.Set(metaType, d.Type)
	return m, nil
}

// topology declares the durable topic exchange and, when configured, the
// durable queue bound to every routing key.
type topology struct{ queue string }

func (b topology) ExchangeDeclare(ch *amqp.Channel, exchange string, cfg wmamqp.Config) error {
	if err := ch.ExchangeDeclare(exchange, "topic", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	if b.queue == "" {
		return nil
	}
	if _, err := ch.QueueDeclare(b.queue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", b.queue, err)
	}
	if err := ch.QueueBind(b.queue, "#", exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", b.queue, err)
	}
	return nil
}

func (b topology) BuildTopology(*amqp.Channel, wmamqp.BuildTopologyParams, wmamqp.Config, watermill.LoggerAdapter) error {
	return errors.New("relay: the relay only publishes")
}

// Connect returns a Watermill publisher for t: watermill-nats (JetStream
// mode, each Publish waiting for the stream's acknowledgement) or
// watermill-amqp (publisher confirms, each Publish waiting for the
// broker's confirmation). Both reconnect by themselves; a broker that is
// down makes Connect fail (NATS: the stream cannot be checked) and Publish
// fail until it is back.
func Connect(t Target, log *slog.Logger) (message.Publisher, error) {
	wlog := watermill.LoggerAdapter(watermill.NopLogger{})
	if log != nil {
		wlog = watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	}
	switch t.Kind {
	case "nats":
		nc, err := nats.Connect(t.URL, nats.Name("doorstep relay "+t.Name), nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond), nats.ReconnectBufSize(-1), nats.RetryOnFailedConnect(true))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", t, err)
		}
		js, err := nc.JetStream()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("JetStream on %s: %w", t, err)
		}
		if err := ensureStream(js, t); err != nil {
			nc.Close()
			return nil, err
		}
		p, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
			Marshaler: natsMarshaler{}, SubjectCalculator: wmnats.DefaultSubjectCalculator,
			JetStream: wmnats.JetStreamConfig{PublishOptions: []nats.PubOpt{nats.AckWait(5 * time.Second)}},
		}, wlog)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("publisher on %s: %w", t, err)
		}
		return p, nil
	case "amqp":
		cfg := wmamqp.Config{
			Connection: wmamqp.ConnectionConfig{AmqpURI: t.URL, Reconnect: &wmamqp.ReconnectConfig{
				BackoffInitialInterval: 250 * time.Millisecond, BackoffRandomizationFactor: 0.5,
				BackoffMultiplier: 2, BackoffMaxInterval: 2 * time.Second}},
			Marshaler: amqpMarshaler{},
			Exchange:  wmamqp.ExchangeConfig{GenerateName: wmamqp.GenerateExchangeNameConstant(t.Exchange), Type: "topic", Durable: true},
			Publish: wmamqp.PublishConfig{GenerateRoutingKey: func(topic string) string { return topic },
				ConfirmDelivery: true, ChannelPoolSize: 1},
			TopologyBuilder: topology{queue: t.Queue},
		}
		p, err := wmamqp.NewPublisher(cfg, wlog)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", t, err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("relay: unknown target kind %q", t.Kind)
}

// ensureStream creates the JetStream stream of t when it is missing.
func ensureStream(js nats.JetStreamContext, t Target) error {
	_, err := js.StreamInfo(t.Stream)
	if errors.Is(err, nats.ErrStreamNotFound) {
		_, err = js.AddStream(&nats.StreamConfig{Name: t.Stream, Subjects: []string{t.Subject + ".>"},
			Storage: nats.FileStorage, Duplicates: 2 * time.Minute})
	}
	if err != nil {
		return fmt.Errorf("JetStream stream %s on %s: %w", t.Stream, t, err)
	}
	return nil
}
