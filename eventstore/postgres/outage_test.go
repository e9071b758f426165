package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// cutProxy forwards TCP connections from a loopback port to the server and
// can cut them all, as a server crash or a network outage would, without
// touching the server other tests use.
type cutProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{target: target, conns: make(map[net.Conn]bool)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
		}
	}()
}

// cut closes the listening port and every forwarded connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens on the same port again.
func (p *cutProxy) restore(t *testing.T) {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("listen on %s again: %v", p.addr, err)
}

// TestOutageAndRecovery: while the server cannot be reached every call
// fails with ErrUnavailable (the HTTP layer's 503), nothing else; when it
// is back the same Store recovers by itself, and retrying the failed
// appends with their ids stores each event exactly once.
func TestOutageAndRecovery(t *testing.T) {
	schema := newSchema(t)
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.addr
	q := u.Query()
	q.Set("connect_timeout", "3")
	u.RawQuery = q.Encode()
	s := mustOpen(t, postgres.Config{URL: u.String(), Schema: schema})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type attempt struct {
		stream string
		ev     eventstore.EventData
	}
	var acked, failed []attempt
	appendOne := func() error {
		a := attempt{storetest.Stream("household"), storetest.Event("household.note", "x")}
		_, err := s.Append(ctx, a.stream, eventstore.NoStream(), a.ev)
		if err == nil {
			acked = append(acked, a)
		} else {
			failed = append(failed, a)
		}
		return err
	}
	for i := 0; i < 5; i++ {
		if err := appendOne(); err != nil {
			t.Fatalf("append before the outage: %v", err)
		}
	}

	p.cut()
	for i := 0; i < 10; i++ {
		if err := appendOne(); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("append during the outage: err = %v, want ErrUnavailable", err)
		}
	}
	if _, err := s.ReadAll(ctx, eventstore.Position{}, 10); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("ReadAll during the outage: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Head during the outage: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.StreamVersion(ctx, acked[0].stream); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("StreamVersion during the outage: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.ReadStream(ctx, acked[0].stream, eventstore.Forward, 1, 10); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("ReadStream during the outage: err = %v, want ErrUnavailable", err)
	}

	p.restore(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := appendOne()
		if err == nil {
			break
		}
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("append after the outage: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Retry what failed, with the same ids: stored once each.
	for _, a := range failed {
		if _, err := s.Append(ctx, a.stream, eventstore.NoStream(), a.ev); err != nil {
			t.Fatalf("retry of %s after the outage: %v", a.ev.ID, err)
		}
		if _, err := s.Append(ctx, a.stream, eventstore.NoStream(), a.ev); err != nil {
			t.Fatalf("second retry of %s: %v", a.ev.ID, err)
		}
	}
	want := make(map[uuid.UUID]bool)
	for _, a := range append(acked, failed...) {
		want[a.ev.ID] = true
	}
	var got []eventstore.Event
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err = s.ReadAll(ctx, eventstore.Position{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkOnceInOrder(t, "log after the outage", got, want)
}
