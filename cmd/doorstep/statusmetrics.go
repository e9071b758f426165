package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// statusMetric is one metric a statusCollector reads off each status row.
type statusMetric[T any] struct {
	name, help string
	kind       prometheus.ValueType
	value      func(T) float64
}

// statusCollector reports, at each scrape, one series per row of a status
// (each relay target, each webhook subscription), labelled by the row's
// name: the one shape of the relay's and the webhooks' metrics.
type statusCollector[T any] struct {
	status  func(context.Context) ([]T, error)
	name    func(T) string
	metrics []statusMetric[T]
	descs   []*prometheus.Desc
}

func newStatusCollector[T any](label string, status func(context.Context) ([]T, error), name func(T) string, metrics ...statusMetric[T]) *statusCollector[T] {
	c := &statusCollector[T]{status: status, name: name, metrics: metrics}
	for _, m := range metrics {
		c.descs = append(c.descs, prometheus.NewDesc(m.name, m.help, []string{label}, nil))
	}
	return c
}

func (c *statusCollector[T]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the status (at most 2 s; a scrape that cannot read it
// reports nothing rather than stale figures).
func (c *statusCollector[T]) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, _ := c.status(ctx)
	for _, row := range rows {
		for i, m := range c.metrics {
			ch <- prometheus.MustNewConstMetric(c.descs[i], m.kind, m.value(row), c.name(row))
		}
	}
}

// oneIf is 1 for true, 0 for false: a gauge of a state.
func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
