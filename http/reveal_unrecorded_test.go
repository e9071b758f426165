package http

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// failingAccess is the record of sensitive reads on a disk that fills up
// while fail is set: the record is refused as accesslog.File refuses one
// cut short (its own test, accesslog's TestFileShortWriteLeavesNoPartialLine,
// covers the partial line).
type failingAccess struct {
	testAccess
	fail *atomic.Bool
}

func (a failingAccess) RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error {
	if a.fail.Load() {
		return fmt.Errorf("access log: %w", &os.PathError{Op: "write", Path: "sensitive-reads.jsonl", Err: syscall.ENOSPC})
	}
	return a.testAccess.RecordReveal(ctx, who, householdID, what, purpose)
}

// Issue 13 item 5: "31 reads served with values, 30 listed". Whatever the
// record of sensitive reads does on a full disk, the HTTP side must hold:
// a read whose record failed is not served with values, and it is a
// bilingual 503 (retry when there is room) rather than an internal error;
// every read served with values is listed.
func TestRevealNotServedWhenItCannotBeRecorded(t *testing.T) {
	var fail atomic.Bool
	e := newEnv(t, func(d *Deps) { d.Access = failingAccess{d.Access.(testAccess), &fail} })
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true)}); r.status != 200 {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	var res CommandResult
	r := e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002"})
	if r.status != 201 {
		t.Fatalf("member: %d %s", r.status, r.body)
	}
	r.decode(t, &res)
	served := 0
	for i := range 6 {
		fail.Store(i == 3)
		r := e.do("GET", "/v1/households/h1?purpose=visit_preparation&wait_for="+res.Position, w, nil)
		if strings.Contains(string(r.body), "13900000002") {
			served++
		}
		if i != 3 {
			if r.status != 200 || !strings.Contains(string(r.body), `"value":"13900000002"`) {
				t.Fatalf("read %d: %d %s", i, r.status, r.body)
			}
			continue
		}
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("a read that could not be recorded: %d %s, want 503 with Retry-After", r.status, r.body)
		}
		p := r.problem(t)
		if p.Code != "read_not_recorded" || p.MessageEN == "" || !hanIn(p.MessageZH) || strings.Contains(string(r.body), "sensitive-reads.jsonl") {
			t.Fatalf("a read that could not be recorded: %s", r.body)
		}
	}
	if n := e.access.count(); served != 5 || n != served {
		t.Fatalf("%d reads served with values, %d listed; want 5 and 5", served, n)
	}
}
