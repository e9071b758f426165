package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/doorstep/doorstep/projections"
)

// lagCollector reports, at each scrape, how many events of the log each
// projection has not applied yet, whether the read models are stalled
// (catching up keeps failing, e.g. a full disk) and how many catch-ups
// failed and were retried.
type lagCollector struct {
	engine  *projections.Engine
	desc    *prometheus.Desc
	stalled *prometheus.Desc
	retries *prometheus.Desc
}

func newLagCollector(e *projections.Engine) *lagCollector {
	return &lagCollector{engine: e, desc: prometheus.NewDesc("doorstep_projection_lag_events",
		"Events of the log a projection has not applied yet.", []string{"projection"}, nil),
		stalled: prometheus.NewDesc("doorstep_projection_stalled",
			"1 while catching up the read models keeps failing and is being retried (they serve their last commit), 0 otherwise.", nil, nil),
		retries: prometheus.NewDesc("doorstep_projection_retries_total",
			"Catch-ups of the read models that failed (a refused commit, a failed read) and were retried.", nil, nil)}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.stalled
	ch <- c.retries
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	stalled := 0.0
	if c.engine.Stalled() != nil {
		stalled = 1
	}
	ch <- prometheus.MustNewConstMetric(c.stalled, prometheus.GaugeValue, stalled)
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(c.engine.Retries()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, name := range c.engine.Projections() {
		n, err := c.engine.Lag(ctx, name)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), name)
	}
}
