package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/doorstep/doorstep/projections"
)

// lagCollector reports, at each scrape, how many events of the log each
// projection has not applied yet.
type lagCollector struct {
	engine *projections.Engine
	desc   *prometheus.Desc
}

func newLagCollector(e *projections.Engine) *lagCollector {
	return &lagCollector{engine: e, desc: prometheus.NewDesc("doorstep_projection_lag_events",
		"Events of the log a projection has not applied yet.", []string{"projection"}, nil)}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
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
