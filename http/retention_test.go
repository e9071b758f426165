package http

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestRetentionPreviewRoute: GET /v1/retention/preview lists the archived
// households due by ?until= (default now), when each is erased, and no
// personal data; a bad until is refused in both languages.
func TestRetentionPreviewRoute(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	po := e.token(identity.Principal{Name: "老周", Role: identity.RolePrivacyOfficer})
	for _, id := range []string{"h1", "h2"} {
		if r := e.do("POST", "/v1/households", w, registerBody(id, "C1", "G1")); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
	}
	if r := e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人"}); r.status != 201 {
		t.Fatalf("member: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/archive", sup, ArchiveRequest{Reason: "moved_away"}); r.status != 200 {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	var p RetentionPreview
	if r := e.do("GET", "/v1/retention/preview", po, nil); r.status != 200 {
		t.Fatalf("preview now: %d %s", r.status, r.body)
	} else if r.decode(t, &p); len(p.Households) != 0 {
		t.Fatalf("due now: %+v", p)
	}
	until := clock.Now().AddDate(3, 1, 0).Format(time.RFC3339)
	r := e.do("GET", "/v1/retention/preview?until="+url.QueryEscape(until), po, nil)
	if r.status != 200 {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	r.decode(t, &p)
	if len(p.Households) != 1 || p.Households[0].HouseholdID != "h1" || p.Households[0].Community != "C1" ||
		!p.Households[0].ErasesAt.Equal(p.Households[0].ArchivedAt.AddDate(3, 0, 0)) {
		t.Fatalf("preview to %s: %+v", until, p)
	}
	for _, personal := range []string{"幸福路", "陈阿姨", "李四"} {
		if strings.Contains(string(r.body), personal) {
			t.Fatalf("the preview holds %q: %s", personal, r.body)
		}
	}
	r = e.do("GET", "/v1/retention/preview?until=tomorrow", po, nil, "Accept-Language", "zh-CN")
	if pr := r.problem(t); r.status != 400 || pr.Code != "invalid_until" || !strings.Contains(pr.Detail, "须为") {
		t.Fatalf("bad until: %d %s", r.status, r.body)
	}
}
