package http

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/doorstep/doorstep/cursor"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections"
)

func testCursors(t testing.TB, st eventstore.Store, db *sql.DB) *cursor.Store {
	t.Helper()
	c, err := cursor.Open(context.Background(), db, projections.SQLite, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A named consumer resumes after its last acknowledgement: the first
// stream with ?consumer=warehouse starts at the beginning; after acking
// the second event a new stream starts at the third; another principal's
// consumer of the same name is its own; a bad name and a position past the
// head are refused in English and Chinese.
func TestNamedConsumerResumes(t *testing.T) {
	e := newEnv(t, nil)
	integ := e.token(identity.Principal{Name: "数据仓库", Role: identity.RoleIntegrator})
	other := e.token(identity.Principal{Name: "大屏", Role: identity.RoleIntegrator})
	for i := range 3 {
		appendDomain(t, e.store, "household-nc"+string(rune('a'+i)), domain.HouseholdRegistered{HouseholdID: "nc" + string(rune('a'+i)), Address: "路", Community: "C1", Grid: "G1"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rd, _ := e.openStream(t, ctx, integ, "?consumer=warehouse", "")
	var ids []string
	for range 3 {
		ids = append(ids, rd.next(t).id)
	}
	if r := e.do("POST", "/v1/consumers/warehouse/ack", integ, ConsumerAck{Position: ids[1]}); r.status != 200 {
		t.Fatalf("ack: %d %s", r.status, r.body)
	}
	rd2, _ := e.openStream(t, ctx, integ, "?consumer=warehouse", "")
	if ev := rd2.next(t); ev.id != ids[2] {
		t.Fatalf("resumed at %s, want %s (after the acknowledged %s)", ev.id, ids[2], ids[1])
	}
	rd3, _ := e.openStream(t, ctx, other, "?consumer=warehouse", "")
	if ev := rd3.next(t); ev.id != ids[0] {
		t.Fatalf("another principal's consumer started at %s, want %s", ev.id, ids[0])
	}
	var list ConsumerList
	r := e.do("GET", "/v1/consumers", integ, nil)
	r.decode(t, &list)
	if len(list.Consumers) != 1 || list.Consumers[0].Name != "warehouse" || list.Consumers[0].Position != ids[1] {
		t.Fatalf("consumers: %+v", list)
	}
	r = e.do("POST", "/v1/consumers/Warehouse/ack", integ, ConsumerAck{Position: "1"})
	if p := r.problem(t); r.status != 400 || p.Code != "invalid_consumer" || p.MessageZH == "" {
		t.Fatalf("bad name: %d %+v", r.status, p)
	}
	r = e.do("POST", "/v1/consumers/warehouse/ack", integ, ConsumerAck{Position: "999999"})
	if p := r.problem(t); r.status != 400 || p.Code != "position_ahead" || p.MessageZH == "" {
		t.Fatalf("ahead: %d %+v", r.status, p)
	}
}
