package http

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the server. Start from DefaultConfig; zero durations and sizes
// are rejected by Validate rather than silently defaulted, so a typo in a
// flag is noticed.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:8080" (":0" picks a free port).
	Addr string
	// MaxBodyBytes bounds a request body; a larger one is 413.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request line and headers together: a
	// larger head is answered 431 headers_too_large (bilingual). net/http
	// itself stops reading a head at twice this (plus its 4 KiB of slack)
	// and answers a plain 431. Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// ReadHeaderTimeout, ReadTimeout and WriteTimeout bound slow clients.
	// WriteTimeout does not apply to the event stream.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// after its context ends.
	ShutdownTimeout time.Duration
	// DefaultWait and MaxWait bound the read-your-writes wait of a query
	// (parameter wait_for); a client may ask for less with wait_timeout.
	DefaultWait time.Duration
	MaxWait     time.Duration
	// Heartbeat is how often the event stream sends a comment line to keep
	// proxies from closing an idle connection.
	Heartbeat time.Duration
	// RetryAfter is the Retry-After (seconds) sent with 503 responses.
	RetryAfter int
	// IdempotencyTTL is how long a response is kept for replay under its
	// Idempotency-Key.
	IdempotencyTTL time.Duration
	// IdempotencyMax bounds how many responses are kept for replay; the
	// oldest go first. A retry older than that is still recognised by the
	// command layer (same command id) and answered from its result.
	IdempotencyMax int
	// IdempotencyMaxBytes bounds the bytes of everything kept for replay
	// (answers, headers, keys, fingerprints and a fixed overhead per
	// entry); the oldest go first. Default DefaultIdempotencyMaxBytes.
	IdempotencyMaxBytes int64
	// IdempotencyMaxEntryBytes bounds one answer kept for replay (body
	// and headers). A larger answer is never kept, only its fingerprint:
	// a retry runs the command again and the command layer answers it
	// from its original result. Default DefaultIdempotencyMaxEntryBytes.
	IdempotencyMaxEntryBytes int
	// MaxPageSize bounds list queries (parameter limit).
	MaxPageSize int
	// MaxStreams bounds the event streams open at once on this server
	// (503 streams_full beyond), MaxStreamsPerToken those of one token
	// (429 too_many_streams beyond). Decision 0076.
	MaxStreams         int
	MaxStreamsPerToken int
	// StreamWriteTimeout bounds each write of an event stream: a client
	// that does not read for this long is disconnected, so that it holds
	// no memory on the server.
	StreamWriteTimeout time.Duration
}

// Default bounds of the event streams (decision 0076): a dashboard or an
// integration keeps one or two streams open, so 4 per token is room for a
// reconnect overlapping the old stream; 200 in all keeps what streams can
// hold (at most DefaultStreamBuffer events each while a client is slow)
// well under the memory budget.
const (
	DefaultMaxStreams         = 200
	DefaultMaxStreamsPerToken = 4
	DefaultStreamWriteTimeout = 10 * time.Second
)

// DefaultMaxHeaderBytes is the default bound of a request's line and
// headers: 16 KiB, several times what a browser or client library sends
// (a bearer token, an Idempotency-Key and a correlation id are well under
// 1 KiB), and 64 times less than Go's 1 MiB default.
const DefaultMaxHeaderBytes = 16 << 10

// Default bounds of the idempotency cache. A command's answer is a few
// hundred bytes and an error about a kilobyte, so 16 KiB per answer is
// generous; 64 MiB for the whole cache holds about 100,000 ordinary answers
// (IdempotencyMax), and no more whatever the clients send.
const (
	DefaultIdempotencyMaxBytes      = 64 << 20
	DefaultIdempotencyMaxEntryBytes = 16 << 10
)

// DefaultConfig returns the defaults: 1 MiB bodies, 16 KiB of headers, 5 s
// waits at most, a 15 s heartbeat, 24 h idempotency window.
func DefaultConfig() Config {
	return Config{
		Addr:                     "127.0.0.1:8080",
		MaxBodyBytes:             1 << 20,
		MaxHeaderBytes:           DefaultMaxHeaderBytes,
		ReadHeaderTimeout:        5 * time.Second,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             60 * time.Second,
		IdleTimeout:              120 * time.Second,
		ShutdownTimeout:          20 * time.Second,
		DefaultWait:              2 * time.Second,
		MaxWait:                  5 * time.Second,
		Heartbeat:                15 * time.Second,
		RetryAfter:               1,
		IdempotencyTTL:           24 * time.Hour,
		IdempotencyMax:           100_000,
		IdempotencyMaxBytes:      DefaultIdempotencyMaxBytes,
		IdempotencyMaxEntryBytes: DefaultIdempotencyMaxEntryBytes,
		MaxPageSize:              500,
		MaxStreams:               DefaultMaxStreams,
		MaxStreamsPerToken:       DefaultMaxStreamsPerToken,
		StreamWriteTimeout:       DefaultStreamWriteTimeout,
	}
}

// Validate reports every invalid field of c in one error.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("http config: %s %s", field, why)) }
	if c.Addr == "" {
		bad("Addr", "is empty; give host:port, e.g. 127.0.0.1:8080")
	}
	if c.MaxBodyBytes < 1024 {
		bad("MaxBodyBytes", "must be at least 1024 bytes")
	}
	if c.MaxHeaderBytes < 1024 {
		bad("MaxHeaderBytes", "must be at least 1024 bytes")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReadHeaderTimeout", c.ReadHeaderTimeout}, {"ReadTimeout", c.ReadTimeout}, {"WriteTimeout", c.WriteTimeout},
		{"IdleTimeout", c.IdleTimeout}, {"ShutdownTimeout", c.ShutdownTimeout}, {"DefaultWait", c.DefaultWait},
		{"MaxWait", c.MaxWait}, {"Heartbeat", c.Heartbeat}, {"IdempotencyTTL", c.IdempotencyTTL},
		{"StreamWriteTimeout", c.StreamWriteTimeout}} {
		if d.v <= 0 {
			bad(d.name, "must be positive")
		}
	}
	if c.DefaultWait > c.MaxWait {
		bad("DefaultWait", "must not exceed MaxWait")
	}
	if c.RetryAfter < 1 {
		bad("RetryAfter", "must be at least 1 second")
	}
	if c.IdempotencyMax < 1 {
		bad("IdempotencyMax", "must be at least 1")
	}
	if c.IdempotencyMaxEntryBytes < 1024 {
		bad("IdempotencyMaxEntryBytes", "must be at least 1024 bytes")
	}
	if c.IdempotencyMaxBytes < int64(c.IdempotencyMaxEntryBytes) {
		bad("IdempotencyMaxBytes", "must be at least IdempotencyMaxEntryBytes")
	}
	if c.MaxPageSize < 1 {
		bad("MaxPageSize", "must be at least 1")
	}
	if c.MaxStreamsPerToken < 1 {
		bad("MaxStreamsPerToken", "must be at least 1")
	}
	if c.MaxStreams < c.MaxStreamsPerToken {
		bad("MaxStreams", "must be at least MaxStreamsPerToken")
	}
	return errors.Join(errs...)
}
