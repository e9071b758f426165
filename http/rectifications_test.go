package http

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestSeed001_2_4_4_RectificationOverHTTP: "约谈社区书记并限期整改" over HTTP.
// A case opened for C1 (as the opener does on a flag) is listed for C1's
// supervisor and the auditor, not for C2's supervisor (404 on the case, 403
// on a list filtered on C1); the supervisor records the 约谈, a failed
// 回头看 sets a new deadline, a passed one closes the case; the auditor reads
// but may not record; a bad result is refused in both languages.
func TestSeed001_2_4_4_RectificationOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.app.OpenRectification(ctx, command.Cmd{ID: "open-c1", Actor: "rectification-opener", Role: domain.RoleSystem}, "case-c1",
		domain.OpenRectification{Community: "C1", Source: domain.SourceFlag, Measure: "resolution.two_months", Periods: []string{"2026-02", "2026-03"},
			ReasonEN: "C1: resolution rate below 80% two months", ReasonZH: "C1：问题化解率连续两个月低于80%"}); err != nil {
		t.Fatal(err)
	}
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	other := e.token(identity.Principal{Name: "另一督导", Role: identity.RoleSupervisor, Communities: []string{"C2"}})
	aud := e.token(identity.Principal{Name: "纪工委", Role: identity.RoleAuditor})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	head, err := e.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var list RectificationList
	must(e.do("GET", "/v1/rectifications?status=open&wait_for="+head.String(), sup, nil), 200).decode(t, &list)
	if len(list.Rectifications) != 1 || list.Rectifications[0].ID != "case-c1" || list.Rectifications[0].Due == nil ||
		list.Rectifications[0].StatusZH != "整改中" || list.Rectifications[0].Measure != "resolution.two_months" {
		t.Fatalf("C1's supervisor lists %+v", list)
	}
	must(e.do("GET", "/v1/rectifications", aud, nil), 200).decode(t, &list)
	if len(list.Rectifications) != 1 {
		t.Fatalf("the auditor lists %+v", list)
	}
	must(e.do("GET", "/v1/rectifications?community=C1", other, nil), 403)
	must(e.do("GET", "/v1/rectifications/case-c1", other, nil), 404)

	now := clock.Now()
	r := must(e.do("POST", "/v1/rectifications/case-c1/review", sup, ReviewRequest{Result: "passed", Findings: "已整改"}), 422)
	if p := r.problem(t); p.Code != "interview_required" || !strings.Contains(p.MessageZH, "约谈") {
		t.Fatalf("a review before the interview: %+v", p)
	}
	must(e.do("POST", "/v1/rectifications/case-c1/interviews", aud, InterviewRequest{Interviewer: "张书记", Interviewee: "王书记",
		HeldAt: now.Add(-time.Hour), Minutes: "约谈"}), 403)
	must(e.do("POST", "/v1/rectifications/case-c1/interviews", sup, InterviewRequest{Interviewer: "街道张书记", Interviewee: "C1 王书记",
		HeldAt: now, Minutes: "分析原因，明确整改措施"}), 200)
	r = must(e.do("POST", "/v1/rectifications/case-c1/review", sup, ReviewRequest{Result: "done", Findings: "x"}), 400)
	if p := r.problem(t); p.Code != "invalid_result" || p.MessageZH == "" {
		t.Fatalf("an unknown result: %+v", p)
	}
	must(e.do("POST", "/v1/rectifications/case-c1/review", sup, ReviewRequest{Result: "failed", Findings: "仍有问题未启动办理"}), 200)
	var c Rectification
	must(e.do("GET", "/v1/rectifications/case-c1", aud, nil), 200).decode(t, &c)
	if c.Status != "open" || len(c.Interviews) != 1 || len(c.Reviews) != 1 || c.Reviews[0].ResultZH != "整改不到位" || c.Deadline == nil ||
		c.Deadline.Start.Before(now.Add(-time.Minute)) || c.ReasonZH == "" {
		t.Fatalf("after a failed review: %+v", c)
	}
	must(e.do("POST", "/v1/rectifications/case-c1/review", sup, ReviewRequest{Result: "passed", Findings: "已全部启动办理"}), 200)
	c = Rectification{}
	must(e.do("GET", "/v1/rectifications/case-c1", sup, nil), 200).decode(t, &c)
	if c.Status != "closed" || c.StatusZH != "已办结" || c.Deadline != nil {
		t.Fatalf("after a passed review: %+v", c)
	}
	head, _ = e.store.Head(ctx)
	must(e.do("GET", "/v1/rectifications?status=closed&wait_for="+head.String(), sup, nil), 200).decode(t, &list)
	if len(list.Rectifications) != 1 || list.Rectifications[0].Reviews != 2 || list.Rectifications[0].LastResult != "passed" ||
		list.Rectifications[0].ClosedAt == nil {
		t.Fatalf("closed cases: %+v", list)
	}
}
