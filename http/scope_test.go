package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/syncbuf"
)

// TestScopeCacheKeepsOnlyExistingStreams: requests naming unknown ids are
// answered 404 and leave nothing in the scope cache, and a household
// registered after such a request is found by the next one.
func TestScopeCacheKeepsOnlyExistingStreams(t *testing.T) {
	e := newEnv(t, nil)
	seed(t, e)
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	size := func() int {
		e.srv.scopes.mu.Lock()
		defer e.srv.scopes.mu.Unlock()
		return len(e.srv.scopes.cache)
	}
	before := size()
	for i := range 100 {
		for _, path := range []string{"/v1/households/", "/v1/problems/", "/v1/referrals/"} {
			if r := e.do("GET", fmt.Sprintf("%snope-%d", path, i), sup, nil); r.status != 404 {
				t.Fatalf("GET %snope-%d: %d %s", path, i, r.status, r.body)
			}
		}
	}
	if after := size(); after > before+1 {
		t.Fatalf("the scope cache grew from %d to %d entries on 300 requests for unknown ids", before, after)
	}
	res, err := e.app.RegisterHousehold(context.Background(), command.Cmd{ID: "late", Actor: "seed", Role: domain.RoleSupervisor}, "nope-7",
		domain.RegisterHousehold{Address: "路 7", Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: domain.ClassKey, Risk: domain.RiskYellow})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/v1/households/nope-7?wait_for="+res.LastPosition.String(), sup, nil); r.status != 200 {
		t.Fatalf("a household registered after a 404 for it: %d %s", r.status, r.body)
	}
}

// failingSubscribe is a real store whose first Subscribe calls fail, as
// when the store is unreachable for a while.
type failingSubscribe struct {
	eventstore.Store
	fails atomic.Int32
}

func (s *failingSubscribe) Subscribe(ctx context.Context, after eventstore.Position, f eventstore.Filter) (*eventstore.Subscription, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, errors.New("injected: the store is unreachable")
	}
	return s.Store.Subscribe(ctx, after, f)
}

// TestScopeFollowerResumes: the scope cache's follower starts again after
// failing, and an entry read while it was down does not keep a community
// the household has since left.
func TestScopeFollowerResumes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fs *failingSubscribe
	e := newEnv(t, func(d *Deps) { fs = &failingSubscribe{Store: d.Store}; fs.fails.Store(2); d.Store = fs })
	f := seed(t, e)
	r := e.srv.scopes
	c := func(id string) command.Cmd { return command.Cmd{ID: id, Actor: "seed", Role: domain.RoleSupervisor} }
	community := func() string {
		sc, err := r.household(ctx, f.h[0], false)
		if err != nil {
			t.Fatal(err)
		}
		return sc.community
	}
	if got := community(); got != "C1" {
		t.Fatalf("community %q, want C1", got)
	}
	if _, err := e.app.Relocate(ctx, c("move-1"), f.h[0], "新址 1 号", "C2", "G2", "搬家"); err != nil {
		t.Fatal(err)
	}
	var logb syncbuf.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.keepFollowing(ctx, slog.New(slog.NewTextHandler(&logb, nil)), 10*time.Millisecond)
	}()
	following := func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.following }
	for deadline := time.Now().Add(10 * time.Second); !following(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the follower did not resume:\n%s", logb.String())
		}
	}
	if n := strings.Count(logb.String(), "scope cache follower stopped"); n != 2 {
		t.Fatalf("%d warnings about the stopped follower, want 2:\n%s", n, logb.String())
	}
	if got := community(); got != "C2" {
		t.Fatalf("after the follower resumed: community %q, want C2 (moved while it was down)", got)
	}
	// Followed live from here: the move back reaches the cached entry.
	if _, err := e.app.Relocate(ctx, c("move-2"), f.h[0], "路 hG1", "C1", "G1", "搬回"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); community() != "C1"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the followed entry did not see the move back")
		}
	}
	cancel()
	<-done
}
