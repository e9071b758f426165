package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The webhook metrics as a scrape shows them: one series per subscription
// and metric, counters typed as counters, the retrying state as 0 or 1; a
// status that cannot be read reports nothing.
func TestWebhookMetrics(t *testing.T) {
	rows := []webhook.Status{
		{Subscription: webhook.Subscription{ID: "wh_a"}, LagEvents: 3, LagSeconds: 1.5, Delivered: 10, Failed: 2, Parked: 1, Retrying: true},
		{Subscription: webhook.Subscription{ID: "wh_b"}},
	}
	var fail error
	c := newStatusCollector("subscription", func(context.Context) ([]webhook.Status, error) { return rows, fail },
		func(s webhook.Status) string { return s.ID }, webhookMetrics()...)
	want := `
# HELP doorstep_webhook_parked_total Deliveries parked after their retry budget, since the process started.
# TYPE doorstep_webhook_parked_total counter
doorstep_webhook_parked_total{subscription="wh_a"} 1
doorstep_webhook_parked_total{subscription="wh_b"} 0
# HELP doorstep_webhook_retrying 1 while the subscription's next delivery is being retried.
# TYPE doorstep_webhook_retrying gauge
doorstep_webhook_retrying{subscription="wh_a"} 1
doorstep_webhook_retrying{subscription="wh_b"} 0
# HELP doorstep_webhook_lag_seconds Age of the oldest event after the subscription's checkpoint; 0 when none is waiting.
# TYPE doorstep_webhook_lag_seconds gauge
doorstep_webhook_lag_seconds{subscription="wh_a"} 1.5
doorstep_webhook_lag_seconds{subscription="wh_b"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "doorstep_webhook_parked_total", "doorstep_webhook_retrying", "doorstep_webhook_lag_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 12 {
		t.Fatalf("%d series, want 6 metrics × 2 subscriptions", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	fail, rows = errors.New("database gone"), nil
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("an unreadable status gave %d series", n)
	}
	var _ prometheus.Collector = c
}
