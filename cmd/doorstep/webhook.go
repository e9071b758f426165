package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

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

// newWebhookCollector reports each webhook subscription's lag,
// deliveries, failures, parked deliveries and whether it is retrying, at
// each scrape.
func newWebhookCollector(wm *webhook.Manager) prometheus.Collector {
	return newStatusCollector("subscription", wm.Status, func(s webhook.Status) string { return s.ID }, webhookMetrics()...)
}

func webhookMetrics() []statusMetric[webhook.Status] {
	type m = statusMetric[webhook.Status]
	return []m{
		{"doorstep_webhook_lag_events", "Events of the log after the webhook subscription's checkpoint.",
			prometheus.GaugeValue, func(s webhook.Status) float64 { return float64(s.LagEvents) }},
		{"doorstep_webhook_lag_seconds", "Age of the oldest event after the subscription's checkpoint; 0 when none is waiting.",
			prometheus.GaugeValue, func(s webhook.Status) float64 { return s.LagSeconds }},
		{"doorstep_webhook_delivered_total", "Deliveries the receiver accepted (2xx), since the process started.",
			prometheus.CounterValue, func(s webhook.Status) float64 { return float64(s.Delivered) }},
		{"doorstep_webhook_failed_total", "Delivery attempts that failed (each retried or parked), since the process started.",
			prometheus.CounterValue, func(s webhook.Status) float64 { return float64(s.Failed) }},
		{"doorstep_webhook_parked_total", "Deliveries parked after their retry budget, since the process started.",
			prometheus.CounterValue, func(s webhook.Status) float64 { return float64(s.Parked) }},
		{"doorstep_webhook_retrying", "1 while the subscription's next delivery is being retried.",
			prometheus.GaugeValue, func(s webhook.Status) float64 { return oneIf(s.Retrying) }},
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
