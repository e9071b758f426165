package http

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// TestProblemEventsFollowTheHouseholdAfterAMove is issue 13's item 3: a
// household moves from 竹园村 to 山联村; a progress note on its problem
// written afterwards is streamed, text included, to 山联村's supervisor,
// who can also read the problem, and neither is shown to 竹园村's.
func TestProblemEventsFollowTheHouseholdAfterAMove(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must := func(r resp, want int, what string) {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
	}
	report := func(id, household string) {
		t.Helper()
		must(e.do("POST", "/v1/problems", e.admin, ReportProblemRequest{ProblemID: id, HouseholdID: household, Description: "屋顶漏水",
			Category: string(domain.ProblemHealth), HandlingClass: string(domain.HandlingImmediate), Colour: string(domain.ColourRed),
			Urgency: string(domain.UrgencyUrgent)}), 201, "report "+id)
	}
	must(e.do("POST", "/v1/households", e.admin, registerBody("h-move", "竹园村", "竹园1网格")), 201, "register h-move")
	must(e.do("POST", "/v1/households", e.admin, registerBody("h-stay", "竹园村", "竹园1网格")), 201, "register h-stay")
	report("p-move", "h-move")
	must(e.do("POST", "/v1/households/h-move/relocate", e.admin, RelocateRequest{Address: "山联村 8 号", Community: "山联村", Grid: "山联2网格", Reason: "搬家"}), 200, "relocate")
	const note = "已联系村委会，下周修缮屋顶"
	must(e.do("POST", "/v1/problems/p-move/progress", e.admin, ProgressRequest{Note: note, FollowUp: string(domain.FollowPhone)}), 200, "note progress")
	// A later event that stays in 竹园村, so the old supervisor's stream has
	// something to reach past the note.
	report("p-stay", "h-stay")

	oldSup := e.token(identity.Principal{Name: "竹园村督导", Role: identity.RoleSupervisor, Communities: []string{"竹园村"}})
	newSup := e.token(identity.Principal{Name: "山联村督导", Role: identity.RoleSupervisor, Communities: []string{"山联村"}})

	// 竹园村: the report from before the move, then p-stay; never the note.
	rd, _ := e.openStream(t, ctx, oldSup, "?category=problem&after=0", "")
	for _, want := range []string{"problem-p-move", "problem-p-stay"} {
		ev := rd.next(t)
		if strings.Contains(ev.data, note) || ev.event == domain.TypeProblemProgressNoted {
			t.Fatalf("竹园村's supervisor was streamed the note written after the move: %s", ev.data)
		}
		if ev.event != domain.TypeProblemReported || !strings.Contains(ev.data, `"stream":"`+want+`"`) {
			t.Fatalf("竹园村's supervisor: got %s %s, want the report of %s", ev.event, ev.data, want)
		}
	}
	must(e.do("GET", "/v1/problems/p-move", oldSup, nil), 404, "竹园村's supervisor reads the problem (out of scope reads as not found: decision 0088)")
	// 山联村: the note arrives with its text; the problem can be read.
	rd, _ = e.openStream(t, ctx, newSup, "?category=problem&after=0", "")
	if ev := rd.next(t); ev.event != domain.TypeProblemProgressNoted || !strings.Contains(ev.data, `"stream":"problem-p-move"`) || !strings.Contains(ev.data, note) {
		t.Fatalf("山联村's supervisor: first problem event %s %s, want the progress note on problem-p-move", ev.event, ev.data)
	}
	must(e.do("GET", "/v1/problems/p-move", newSup, nil), 200, "山联村's supervisor reads the problem")

}
