package esdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// fixture is one store on a server shared by the test binary, isolated by
// a stream prefix of its own: its log holds only its own events, among the
// other fixtures' streams, claims and the server's system events, which the
// store must leave out.
type fixture struct {
	url, prefix string
	srv         *esdbtest.Server // nil on a live server
	s           *esdb.Store
}

func newFixture(t *testing.T, url string, srv *esdbtest.Server) *fixture {
	t.Helper()
	f := &fixture{url: url, srv: srv, prefix: "t" + strings.ReplaceAll(uuid.NewString()[:13], "-", "") + "."}
	f.open(t)
	t.Cleanup(func() { f.s.Close() })
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	s, err := esdb.Open(context.Background(), esdb.Config{URL: f.url, Prefix: f.prefix})
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
}

func (f *fixture) Store() eventstore.Store { return f.s }

func (f *fixture) Reopen(t *testing.T) eventstore.Store {
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	return f.s
}

func (f *fixture) Tamper(t *testing.T, stream string, version uint64) {
	if f.srv == nil {
		t.Fatal("a live server's events cannot be tampered with")
	}
	if !f.srv.Tamper(f.prefix+stream, version-1, []byte(`{"tampered":true}`)) {
		t.Fatalf("no event %s@%d to tamper with", stream, version)
	}
}

// features is what the backend offers; Tamper only on the in-process
// server, whose stored events the test can reach.
func features(tamper bool) storetest.Features {
	return storetest.Features{
		Append: true, ReadStream: true, ReadAll: true, ExpectedVersion: true,
		IdempotentRetry: true, DurableIdempotency: true, UniqueEventIDs: true,
		Head: true, Subscribe: true, SubscribeFilters: true,
		HashChain: true, Tamper: tamper,
	}
}
