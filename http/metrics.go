package http

import (
	nethttp "net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live on the server's own registry (never the global default one),
// so two servers in one process — as in tests — do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  prometheus.Gauge
	streamed prometheus.Counter
	dropped  prometheus.Counter
	refusals *prometheus.CounterVec
	handler  nethttp.Handler
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "doorstep", Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests by method (GET, POST… or other), route template and status code.",
	}, []string{"method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "doorstep", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP request latency by method and route template.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method", "route"})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "doorstep", Subsystem: "sse", Name: "clients",
		Help: "Event-stream clients connected.",
	})
	m.streamed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "doorstep", Subsystem: "sse", Name: "events_sent_total",
		Help: "Events sent on event streams.",
	})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "doorstep", Subsystem: "sse", Name: "slow_clients_dropped_total",
		Help: "Event-stream clients disconnected because they did not read within Config.StreamWriteTimeout.",
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "doorstep", Subsystem: "http", Name: "limit_refusals_total",
		Help: "Requests refused (or answers not kept) because a bound was reached, by limit (see README, Limits).",
	}, []string{"limit"})
	for _, l := range allLimits() {
		m.refusals.WithLabelValues(l)
	}
	m.reg.MustRegister(m.requests, m.duration, m.streams, m.streamed, m.dropped, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// observe counts a request. method must be bounded (methodLabel), as must
// route (a route template or "unmatched").
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// watchIdempotency exports the size of the idempotency cache.
func (m *metrics) watchIdempotency(c *idempotency) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "doorstep", Subsystem: "http", Name: "idempotency_cache_bytes",
		Help: "Bytes of answers (and fingerprints) the idempotency cache keeps for replay; bounded by Config.IdempotencyMaxBytes.",
	}, func() float64 { b, _ := c.stats(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "doorstep", Subsystem: "http", Name: "idempotency_cache_entries",
			Help: "Finished requests the idempotency cache remembers; bounded by Config.IdempotencyMax.",
		}, func() float64 { _, n := c.stats(); return float64(n) }))
}

// Registry returns the server's Prometheus registry, so the binary can add
// its own collectors (store, projections) to /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }
