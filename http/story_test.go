package http

import (
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections/audit"
)

// TestLoneElderStory follows issue 20's case over HTTP as a new user would:
// a lone elder refuses a visit; a later visit is completed and finds two
// problems; one is referred to the health department, which accepts and
// completes the referral; the problem is resolved and the household rates
// it 5. The household file, its as-of view and the audit trail (JSON and
// CSV) must tell the whole story: the refusal, when each visit really
// happened, and the completed referral.
func TestLoneElderStory(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"竹园村第1网格"}})
	dept := e.token(identity.Principal{Name: "卫健局王医生", Role: identity.RoleDepartment, Department: "卫健局"})
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// The visits happened hours before they were entered (17:30 in the
	// issue for a 10:00 visit); entry time is now, whatever the date.
	now := clock.Now().In(loc).Truncate(time.Minute)
	refusedAt, completedAt := now.Add(-20*time.Hour), now.Add(-7*time.Hour-30*time.Minute)
	var last string
	cmd := func(method, path, token string, body any) CommandResult {
		t.Helper()
		r := e.do(method, path, token, body)
		if r.status != 200 && r.status != 201 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		var res CommandResult
		r.decode(t, &res)
		last = res.Position
		return res
	}
	cmd("POST", "/v1/households", w, RegisterHouseholdRequest{HouseholdID: "elder", Address: "竹园村 3 组 12 号", Community: "竹园社区",
		Grid: "竹园村第1网格", ResponsibleWorker: "李四", Class: "special", Risk: "yellow"})
	refusal := cmd("POST", "/v1/households/elder/visits", w, VisitRequest{VisitID: "v-refused", Team: []string{"李四", "志愿者小陈"},
		OccurredAt: refusedAt.Format(time.RFC3339), Mode: "home", Outcome: "refused", Summary: "老人隔门说不需要，不愿开门"})
	// The completed visit carries the evidence the policy asks of a
	// special household (decision 0120).
	cmd("POST", "/v1/households/elder/visits", w, VisitRequest{VisitID: "v-done",
		Members:    []VisitMemberRequest{{Person: "李四", Role: "grid_worker"}, {Person: "卫健局王医生", Role: "doctor"}, {Person: "志愿者小陈", Role: "volunteer"}},
		OccurredAt: completedAt.Format(time.RFC3339), Mode: "home", Outcome: "completed", Summary: "独居，感到孤独，担心摔倒",
		Purpose: "routine", Covered: []string{"health", "economic", "support_obligations", "home_safety", "service_needs"},
		NextContact: &NextContactRequest{Person: "李四", At: completedAt.Add(7 * 24 * time.Hour).Format(time.RFC3339)},
		CheckIn:     &CheckInRequest{At: completedAt.Format(time.RFC3339), Place: "竹园村 3 组 12 号门前"}})
	for _, p := range []ReportProblemRequest{
		{ProblemID: "elder-health", HouseholdID: "elder", VisitID: "v-done", Description: "需要上门体检", Category: "health_medical",
			HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"},
		{ProblemID: "elder-alarm", HouseholdID: "elder", VisitID: "v-done", Description: "需要安装一键呼叫报警器", Category: "service",
			HandlingClass: "coordinated", Colour: "red", Urgency: "urgent"},
	} {
		cmd("POST", "/v1/problems", w, p)
	}
	cmd("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "elder-ref", ProblemID: "elder-health", Level: "department", To: "卫健局", Request: "请安排上门体检"})
	cmd("POST", "/v1/referrals/elder-ref/accept", dept, AcceptRequest{Responsible: "王医生", TimeLimit: "5 working_days"})
	cmd("POST", "/v1/referrals/elder-ref/start", dept, NoteRequest{Note: "已预约"})
	cmd("POST", "/v1/referrals/elder-ref/complete", dept, CompleteRequest{Outcome: "已上门体检，血压偏高，纳入慢病随访"})
	cmd("POST", "/v1/problems/elder-health/resolve", w, ResolveRequest{Summary: "体检完成并纳入随访"})
	cmd("POST", "/v1/problems/elder-health/satisfaction", w, SatisfactionRequest{Score: 5, Comment: "很满意"})

	// The profile: both visits with their outcomes, newest first, at the
	// times they happened; the completed referral and the resolution.
	r := e.do("GET", "/v1/households/elder?wait_for="+last, w, nil)
	if r.status != 200 {
		t.Fatalf("profile: %d %s", r.status, r.body)
	}
	var prof HouseholdProfile
	r.decode(t, &prof)
	if prof.VisitCount != 2 || len(prof.Visits.Visits) != 2 {
		t.Fatalf("profile visits: count %d, %+v", prof.VisitCount, prof.Visits)
	}
	done, refused := prof.Visits.Visits[0], prof.Visits.Visits[1]
	if refused.ID != "v-refused" || refused.Outcome != "refused" || !refused.OccurredAt.Equal(refusedAt) || refused.Mode != "home" ||
		strings.Join(refused.Team, ",") != "李四,志愿者小陈" || refused.RecordedAt.Before(now) {
		t.Errorf("the refusal in the profile: %+v", refused)
	}
	if done.ID != "v-done" || done.Outcome != "completed" || !done.OccurredAt.Equal(completedAt) || prof.LastVisit == nil || !prof.LastVisit.Equal(completedAt) {
		t.Errorf("the completed visit in the profile: %+v (last visit %v)", done, prof.LastVisit)
	}
	if len(prof.ReferralsOpen) != 0 || len(prof.Referrals) != 1 {
		t.Fatalf("profile referrals: open %+v, all %+v", prof.ReferralsOpen, prof.Referrals)
	}
	if rf := prof.Referrals[0]; rf.ID != "elder-ref" || rf.Status != "completed" || rf.Outcome != "已上门体检，血压偏高，纳入慢病随访" ||
		rf.Responsible != "王医生" || rf.ClosedAt == nil || rf.To != "卫健局" {
		t.Errorf("the completed referral in the profile: %+v", rf)
	}
	problems := map[string]ProblemRow{}
	for _, p := range prof.Problems {
		problems[p.ID] = p
	}
	if p := problems["elder-health"]; p.Status != "resolved" || p.Satisfaction != 5 || p.Resolution != "体检完成并纳入随访" {
		t.Errorf("the resolved problem in the profile: %+v", p)
	}
	if p := problems["elder-alarm"]; p.Status != "open" || len(prof.Problems) != 2 {
		t.Errorf("the open problem in the profile: %+v", prof.Problems)
	}
	// Paged: one visit per page.
	r = e.do("GET", "/v1/households/elder?visits_limit=1&visits_offset=1", w, nil)
	var page HouseholdProfile
	r.decode(t, &page)
	if r.status != 200 || len(page.Visits.Visits) != 1 || page.Visits.Visits[0].ID != "v-refused" || page.Visits.Limit != 1 || page.Visits.Offset != 1 {
		t.Errorf("second page of visits: %d %+v", r.status, page.Visits)
	}

	// The audit trail as JSON: the visits at the times they happened, the
	// refusal and the completed referral in words.
	r = e.do("GET", "/v1/households/elder/audit?wait_for="+last, e.admin, nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var trail AuditTrail
	r.decode(t, &trail)
	byKey := map[string]audit.Entry{}
	for _, en := range trail.Entries {
		byKey[en.Type+" "+en.Stream] = en
		if en.Type == "visit.recorded" {
			byKey[en.Type+" "+fmt.Sprint(en.Version)] = en
		}
	}
	ref, ok := byKey["visit.recorded 2"]
	if !ok {
		t.Fatalf("no refusal in the trail: %s", r.body)
	}
	if !ref.OccurredAt.Equal(refusedAt) || ref.RecordedAt.Before(now) || ref.Position.String() != refusal.Position {
		t.Errorf("the refusal happened at %s, the trail says %s (recorded %s)", refusedAt, ref.OccurredAt, ref.RecordedAt)
	}
	if !strings.Contains(ref.Summary, "refused") || !strings.Contains(ref.Summary, "拒绝走访") || !strings.Contains(ref.Summary, "李四") ||
		!strings.Contains(ref.Summary, refusedAt.Format("2006-01-02 15:04")) {
		t.Errorf("the refusal's summary: %q", ref.Summary)
	}
	if !hasChange(ref.Changes, "visit.v-refused", "refused") {
		t.Errorf("the refusal's changes: %+v", ref.Changes)
	}
	if v := byKey["visit.recorded 3"]; !v.OccurredAt.Equal(completedAt) || !hasChange(v.Changes, "visit.v-done", "completed") {
		t.Errorf("the completed visit in the trail: %+v", v)
	}
	comp, ok := byKey["referral.completed referral-elder-ref"]
	if !ok || !strings.Contains(comp.Summary, "已上门体检，血压偏高，纳入慢病随访") || !strings.Contains(comp.Summary, "办结转介") ||
		!strings.Contains(comp.Summary, "卫健局王医生") || !hasChange(comp.Changes, "status", "completed") {
		t.Errorf("the completed referral in the trail: %+v", comp)
	}
	if rate := byKey["problem.satisfaction_rated problem-elder-health"]; !strings.Contains(rate.Summary, "5 分") || !strings.Contains(rate.Summary, "5 of 5") {
		t.Errorf("the rating in the trail: %+v", rate)
	}

	// The same trail as CSV agrees with the JSON, row for row.
	r = e.do("GET", "/v1/households/elder/audit?format=csv", e.admin, nil)
	if r.status != 200 {
		t.Fatalf("audit csv: %d %s", r.status, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(trail.Entries)+1 || len(rows[0]) != len(audit.CSVHeader) || rows[0][11] != "summary / 摘要" {
		t.Fatalf("csv: %d rows for %d entries, header %q", len(rows), len(trail.Entries), rows[0])
	}
	for i, en := range trail.Entries {
		row := rows[i+1]
		if row[1] != en.EventID || row[5] != en.OccurredAt.UTC().Format(time.RFC3339Nano) || row[6] != en.RecordedAt.UTC().Format(time.RFC3339Nano) ||
			row[11] != audit.CSVCell(en.Summary) {
			t.Errorf("csv row %d %q disagrees with %+v", i+1, row, en)
		}
		if en.Type == "visit.recorded" && en.Version == 2 && (row[5] != refusedAt.UTC().Format(time.RFC3339Nano) || !strings.Contains(row[9], "visit.v-refused: ") ||
			!strings.Contains(row[9], "refused")) {
			t.Errorf("the refusal's csv row: %q", row)
		}
	}

	// As of just after the refusal was entered: the refusal alone; as of
	// now: both visits and the completed referral.
	asOf := func(at time.Time) HouseholdSnapshot {
		t.Helper()
		r := e.do("GET", "/v1/households/elder/as-of?at="+url.QueryEscape(at.Format(time.RFC3339Nano)), e.admin, nil)
		if r.status != 200 {
			t.Fatalf("as of %s: %d %s", at, r.status, r.body)
		}
		var s HouseholdSnapshot
		r.decode(t, &s)
		return s
	}
	then := asOf(ref.RecordedAt)
	if vs := then.Household.VisitList.Visits; then.Household.Visits != 1 || len(vs) != 1 || vs[0].Outcome != "refused" || !vs[0].OccurredAt.Equal(refusedAt) ||
		len(then.Referrals) != 0 || len(then.Problems) != 0 {
		t.Errorf("as of the refusal: %+v", then)
	}
	later := asOf(clock.Now().Add(time.Minute))
	if vs := later.Household.VisitList.Visits; len(vs) != 2 || vs[0].ID != "v-done" || vs[1].Outcome != "refused" {
		t.Errorf("as of now, visits: %+v", later.Household.VisitList)
	}
	if len(later.Referrals) != 1 || later.Referrals[0].Status != "completed" || later.Referrals[0].Outcome != "已上门体检，血压偏高，纳入慢病随访" {
		t.Errorf("as of now, referrals: %+v", later.Referrals)
	}
	if len(later.Problems) != 2 {
		t.Errorf("as of now, problems: %+v", later.Problems)
	}
}

func hasChange(cs []audit.Change, field, after string) bool {
	for _, c := range cs {
		if c.Field == field && strings.Contains(c.After, after) {
			return true
		}
	}
	return false
}
