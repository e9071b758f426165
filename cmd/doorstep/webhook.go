package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/webhook"
)

// encoder builds the CloudEvents encoder of the relay flags (-relay-source,
// -relay-schema-base), which webhooks share with the broker relay.
func (f *relayFlags) encoder(addr string) (*cloudevent.Encoder, error) {
	base := f.schemaBase
	if base == "" {
		base = "http://" + addr
	}
	enc, err := cloudevent.NewEncoder(f.source, base)
	if err != nil {
		return nil, usageError{"doorstep: -relay-source / -relay-schema-base: " + err.Error()}
	}
	return enc, nil
}

// startWebhooks builds the webhook manager on the runtime's store and
// read-model database: every node's API manages subscriptions with it;
// runBackground runs the deliveries beside the relay (on the elected node).
func (rt *runtime) startWebhooks(ctx context.Context, enc *cloudevent.Encoder, log *slog.Logger) error {
	m, err := webhook.New(rt.webhookConfig(enc, log))
	if err != nil {
		return err
	}
	if err := m.Init(ctx); err != nil {
		return err
	}
	rt.webhooks = m
	return nil
}

// webhookConfig is the webhook manager's configuration on the runtime:
// its store, read-model database, the vault that opens sealed fields for
// granted subscriptions (decision 0106) and the KEK ring that wraps the
// signing secrets at rest (decision 0126).
func (rt *runtime) webhookConfig(enc *cloudevent.Encoder, log *slog.Logger) webhook.Config {
	cfg := webhook.Config{Log: rt.store, DB: rt.db, Dialect: rt.dialect, Counter: rt.counter, Encoder: enc,
		Logger: log, Now: clock.Now, Reveals: rt.access}
	if rt.vault != nil {
		cfg.Opener = rt.vault
	}
	if rt.kek != nil {
		cfg.Secrets = rt.kek
	}
	return cfg
}

// webhookCollector reports each webhook subscription's lag, deliveries,
// failures, parked deliveries and whether it is retrying, at each scrape.
type webhookCollector struct {
	m                                                *webhook.Manager
	lagEvents, lagSeconds, delivered, failed, parked *prometheus.Desc
	retrying                                         *prometheus.Desc
}

func newWebhookCollector(m *webhook.Manager) *webhookCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"subscription"}, nil)
	}
	return &webhookCollector{m: m,
		lagEvents:  d("doorstep_webhook_lag_events", "Events of the log after the webhook subscription's checkpoint."),
		lagSeconds: d("doorstep_webhook_lag_seconds", "Age of the oldest event after the subscription's checkpoint; 0 when none is waiting."),
		delivered:  d("doorstep_webhook_delivered_total", "Deliveries the receiver accepted (2xx), since the process started."),
		failed:     d("doorstep_webhook_failed_total", "Delivery attempts that failed (each retried or parked), since the process started."),
		parked:     d("doorstep_webhook_parked_total", "Deliveries parked after their retry budget, since the process started."),
		retrying:   d("doorstep_webhook_retrying", "1 while the subscription's next delivery is being retried."),
	}
}

func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lagEvents, c.lagSeconds, c.delivered, c.failed, c.parked, c.retrying} {
		ch <- d
	}
}

func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, _ := c.m.Status(ctx)
	for _, s := range st {
		retrying := 0.0
		if s.Retrying {
			retrying = 1
		}
		ch <- prometheus.MustNewConstMetric(c.lagEvents, prometheus.GaugeValue, float64(s.LagEvents), s.ID)
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, s.LagSeconds, s.ID)
		ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(s.Delivered), s.ID)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.Failed), s.ID)
		ch <- prometheus.MustNewConstMetric(c.parked, prometheus.CounterValue, float64(s.Parked), s.ID)
		ch <- prometheus.MustNewConstMetric(c.retrying, prometheus.GaugeValue, retrying, s.ID)
	}
}

// printWebhookStatus prints each webhook subscription's checkpoint, lag and
// parked deliveries (for `doorstep relay status`); nothing when there is
// none.
func printWebhookStatus(ctx context.Context, rt *runtime, stdout io.Writer) error {
	enc, err := cloudevent.NewEncoder("", "")
	if err != nil {
		return err
	}
	m, err := webhook.New(rt.webhookConfig(enc, nil))
	if err != nil {
		return err
	}
	if err := m.Init(ctx); err != nil {
		return err
	}
	st, err := m.Status(ctx)
	if err != nil || len(st) == 0 {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "WEBHOOK\tURL\tPOSITION\tPASSED\tLAG_EVENTS\tLAG_SECONDS\tPARKED\t/ 回调订阅 地址 位置 已处理 落后事件 落后秒数 已搁置")
	for _, s := range st {
		parked, err := m.Deliveries(ctx, s.ID, webhook.StatusParked, webhook.MaxDeliveriesList)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%.1f\t%d\t\n", s.ID, s.URL, s.Position, s.Events, s.LagEvents, s.LagSeconds, len(parked))
	}
	return w.Flush()
}
