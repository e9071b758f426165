package http

import (
	"net/url"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestAssignCommunitySupervisor: an admin records who supervises a
// community; others may not; bad names and a missing supervisor are
// refused in English and Chinese and write nothing.
func TestAssignCommunitySupervisor(t *testing.T) {
	e := newEnv(t, nil)
	path := "/v1/communities/" + url.PathEscape("竹园村") + "/supervisor"
	r := e.do("PUT", path, e.admin, SupervisorRequest{Supervisor: "王书记", Reason: "换届"})
	var res CommandResult
	if r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	r.decode(t, &res)
	if res.Stream != "community-竹园村" || res.Version != 1 {
		t.Fatalf("assign result %+v", res)
	}
	if name, err := e.app.CommunitySupervisor(t.Context(), "竹园村"); err != nil || name != "王书记" {
		t.Fatalf("supervisor in the log: %q %v", name, err)
	}
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"竹园村"}})
	if r := e.do("PUT", path, sup, SupervisorRequest{Supervisor: "张三"}); r.status != 403 {
		t.Fatalf("a supervisor assigning: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		path string
		body SupervisorRequest
		code string
	}{
		{path, SupervisorRequest{Supervisor: "王书记"}, "no_change"},
		{path, SupervisorRequest{}, "required"},
		{path, SupervisorRequest{Supervisor: strings.Repeat("王", 60)}, "invalid_name"},
		{"/v1/communities/" + url.PathEscape("竹园 村") + "/supervisor", SupervisorRequest{Supervisor: "李"}, "invalid_id"},
	} {
		r := e.do("PUT", tc.path, e.admin, tc.body, "Accept-Language", "zh-CN")
		if p := r.problem(t); p.Code != tc.code || r.status < 400 || r.status >= 500 || !strings.ContainsFunc(p.Detail, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Errorf("%s %+v: %d %s, want %s in Chinese", tc.path, tc.body, r.status, r.body, tc.code)
		}
	}
	if v, _ := e.store.StreamVersion(t.Context(), "community-竹园村"); v != 1 {
		t.Fatalf("refused assignments wrote: version %d", v)
	}
}
