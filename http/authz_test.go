package http

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/webhook"
)

// fixtures: one household, problem and referral inside the test
// principals' scope (community C1, grid G1, department 住建局) and one of
// each outside it (C2, G2, 民政局), plus households to archive.
type fixtures struct {
	h, p, r, arch [2]string // [in, out]
	rect          [2]string // rectification cases of C1 and C2
	spot          [2]string // the communities of the spot-check routes (C1, C2)
	spare         string    // the id of a token the token routes revoke and expire
	webhook       string    // a webhook subscription the webhook routes read and delete
}

func seed(t testing.TB, e *testEnv) fixtures {
	t.Helper()
	ctx := context.Background()
	c := func(id string) command.Cmd { return command.Cmd{ID: id, Actor: "seed", Role: domain.RoleSupervisor} }
	var f fixtures
	f.spare = identity.TokenID(e.token(identity.Principal{Name: "spare", Role: identity.RoleAuditor}))
	for _, login := range []string{"spare-user", "signer"} {
		if err := e.users.Add(ctx, login, identity.Principal{Name: login, Role: identity.RoleAuditor}, signerPassword, "seed", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if e.srv.d.Webhooks != nil {
		sub, _, err := e.srv.d.Webhooks.Create(ctx, webhook.Request{URL: "https://receiver.example.org/spare"}, "seed")
		if err != nil {
			t.Fatal(err)
		}
		f.webhook = sub.ID
	}
	for i, loc := range [][2]string{{"C1", "G1"}, {"C2", "G2"}} {
		for _, id := range []string{"h" + loc[1], "arch" + loc[1]} {
			if _, err := e.app.RegisterHousehold(ctx, c("reg-"+id), id, domain.RegisterHousehold{Address: "路 " + id, Community: loc[0], Grid: loc[1],
				ResponsibleWorker: "李四", Class: domain.ClassKey, Risk: domain.RiskYellow}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.AddMember(ctx, c("m1-"+id), id, "m1", command.Member{Name: "王师傅", Relation: "本人"}); err != nil {
				t.Fatal(err)
			}
		}
		f.h[i], f.arch[i] = "h"+loc[1], "arch"+loc[1]
		pr, err := e.app.ReportProblem(ctx, c("p-"+loc[1]), command.ReportProblem{ProblemID: "p" + loc[1], HouseholdID: f.h[i], Description: "需要加装电梯",
			Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary})
		if err != nil {
			t.Fatal(err)
		}
		f.p[i] = pr.ID
		to := []string{"住建局", "民政局"}[i]
		rr, err := e.app.RequestReferral(ctx, c("r-"+loc[1]), command.RequestReferral{ReferralID: "r" + loc[1], ProblemID: pr.ID, Level: domain.LevelStreet, To: to, Request: "加装电梯"})
		if err != nil {
			t.Fatal(err)
		}
		f.r[i] = rr.ID
		f.rect[i], f.spot[i] = "rect-"+loc[0], loc[0]
		if _, err := e.app.OpenRectification(ctx, command.Cmd{ID: "rect-" + loc[0], Actor: "rectification-opener", Role: domain.RoleSystem},
			f.rect[i], domain.OpenRectification{Community: loc[0], Source: domain.SourceFlag, Measure: "resolution.two_months",
				Periods: []string{"2026-02", "2026-03"}, ReasonEN: "two months below 80%", ReasonZH: "连续两个月低于80%"}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := e.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.srv.d.Read.Engine.WaitFor(wctx, profile.Name, head); err != nil {
		t.Fatal(err)
	}
	return f
}

// signerPassword is the password of the users seed creates.
const signerPassword = "a test password of some length"

// request builds the request of an operation for the in-scope (in) or
// out-of-scope fixtures.
func (f fixtures) request(op string, in bool, n int) (path string, body any) {
	i := 1
	if in {
		i = 0
	}
	loc := [][2]string{{"C1", "G1"}, {"C2", "G2"}}[i]
	uniq := fmt.Sprint(n)
	h, p, r := "/v1/households/"+f.h[i], "/v1/problems/"+f.p[i], "/v1/referrals/"+f.r[i]
	now := clock.Now()
	scopeQ := "?community=" + loc[0] + "&grid=" + loc[1]
	switch op {
	case "health":
		return "/healthz", nil
	case "ready":
		return "/readyz", nil
	case "metrics":
		return "/metrics", nil
	case "openapi":
		return "/openapi.json", nil
	case "listEventSchemas":
		return "/v1/schemas", nil
	case "getEventSchema":
		return "/v1/schemas/cn.doorstep.visit.recorded.v1", nil
	case "whoami":
		return "/v1/whoami", nil
	case "createToken":
		return "/v1/tokens", TokenRequest{Name: "t" + uniq, Role: identity.RoleAuditor}
	case "listTokens":
		return "/v1/tokens", nil
	case "listConsumers":
		return "/v1/consumers", nil
	case "ackConsumer":
		return "/v1/consumers/warehouse/ack", ConsumerAck{Position: "1"}
	case "createWebhook":
		return "/v1/webhooks", WebhookRequest{URL: "https://receiver.example.org/hook/" + uniq, Types: []string{"visit.recorded"}}
	case "listWebhooks":
		return "/v1/webhooks", nil
	case "getWebhook":
		return "/v1/webhooks/" + f.webhook, nil
	case "deleteWebhook":
		return "/v1/webhooks/" + f.webhook + "/delete", nil
	case "listWebhookDeliveries":
		return "/v1/webhooks/" + f.webhook + "/deliveries?status=parked&limit=10", nil
	case "grantWebhook":
		return "/v1/webhooks/" + f.webhook + "/grant", WebhookGrantRequest{Purpose: "statutory_report", Reason: "monthly statutory report"}
	case "withdrawWebhookGrant":
		return "/v1/webhooks/" + f.webhook + "/grant/withdraw", WebhookGrantRequest{Reason: "report sent"}
	case "replayWebhookDelivery":
		return "/v1/webhooks/" + f.webhook + "/deliveries/01a248f4-3325-7b39-a3be-894a310726d1/replay", nil
	case "revokeToken":
		return "/v1/tokens/" + f.spare + "/revoke", nil
	case "setTokenExpiry":
		return "/v1/tokens/" + f.spare + "/expiry", TokenExpiryRequest{ExpiresAt: now.Add(time.Hour).Format(time.RFC3339)}
	case "streamEvents":
		return "/v1/events?after=0", nil
	case "signIn":
		return "/v1/session", SignInRequest{Login: "signer", Password: signerPassword}
	case "signOut":
		return "/v1/session", nil
	case "listUsers":
		return "/v1/users", nil
	case "createUser":
		return "/v1/users", UserRequest{Login: "u" + uniq, Password: signerPassword, Name: "用户" + uniq, Role: identity.RoleAuditor}
	case "disableUser":
		return "/v1/users/spare-user/disable", nil
	case "enableUser":
		return "/v1/users/spare-user/enable", nil
	case "setUserExpiry":
		return "/v1/users/spare-user/expiry", TokenExpiryRequest{ExpiresAt: now.Add(time.Hour).Format(time.RFC3339)}
	case "registerHousehold":
		return "/v1/households", RegisterHouseholdRequest{HouseholdID: "new" + uniq, Address: "新路 " + uniq, Community: loc[0], Grid: loc[1],
			ResponsibleWorker: "李四", Class: "ordinary", Risk: "green"}
	case "addMember":
		return h + "/members", MemberRequest{Name: "小王" + uniq, Relation: "子女"}
	case "changeMember":
		return h + "/members/m1/change", MemberRequest{Name: "王师傅", Relation: "本人", Occupation: "司机" + uniq, Reason: "更正"}
	case "removeMember":
		return h + "/members/m1/leave", ReasonRequest{Reason: "外出务工"}
	case "relocateHousehold":
		return h + "/relocate", RelocateRequest{Address: "新址 " + uniq, Community: loc[0], Grid: loc[1], Reason: "搬家"}
	case "assignWorker":
		return h + "/worker", ChangeRequest{To: "王五" + uniq, Reason: "调整"}
	case "changeClass":
		return h + "/class", ChangeRequest{To: []string{"ordinary", "special"}[n%2], Reason: "复核"}
	case "changeCategory":
		return h + "/category", ChangeRequest{To: []string{"di_bao", "te_kun"}[n%2], Reason: "复核"}
	case "changeCircumstances":
		return h + "/circumstances", CircumstancesRequest{To: [][]string{{"disability"}, {"elderly_alone"}}[n%2], Reason: "复核"}
	case "changeRisk":
		return h + "/risk", ChangeRequest{To: []string{"red", "blue"}[n%2], Reason: "复核"}
	case "assessNeeds":
		return h + "/needs", NeedsRequest{Needs: map[string][]string{"medical": {"康复" + uniq}}}
	case "offerResources":
		return h + "/resources", ResourcesRequest{Skills: []string{"修理"}, Volunteer: n%2 == 0}
	case "recordConsent":
		return h + "/consent", ConsentRequest{Given: new(n%2 == 0), Reason: "撤回"}
	case "archiveHousehold":
		return "/v1/households/" + f.arch[i] + "/archive", ArchiveRequest{Reason: "moved_away"}
	case "recordVisit":
		return h + "/visits", VisitRequest{Team: []string{"李四"}, OccurredAt: now.Add(-time.Hour).Format(time.RFC3339), Mode: "home", Outcome: "completed", Summary: uniq}
	case "reportProblem":
		return "/v1/problems", ReportProblemRequest{HouseholdID: f.h[i], Description: "问题 " + uniq, Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}
	case "reclassifyProblem":
		return p + "/reclassify", ReclassifyRequest{HandlingClass: "immediate", Colour: []string{"red", "yellow"}[n%2], Urgency: "urgent", Reason: "复核"}
	case "assignProblem":
		return p + "/assign", AssignRequest{To: "王五" + uniq, Reason: "换人"}
	case "extendProblemDeadline":
		return p + "/extend", ExtendRequest{To: now.Add(30 * 24 * time.Hour).Format(time.RFC3339), Reason: "等待审批"}
	case "noteProgress":
		return p + "/progress", ProgressRequest{Note: "已联系", FollowUp: "phone"}
	case "resolveProblem":
		return p + "/resolve", ResolveRequest{Summary: "已解决"}
	case "rateSatisfaction":
		return p + "/satisfaction", SatisfactionRequest{Score: 5}
	case "revisitProblem":
		return p + "/revisit", RevisitRequest{Held: new(true), Method: "phone"}
	case "reopenProblem":
		return p + "/reopen", ReasonRequest{Reason: "复发"}
	case "closeProblem":
		return p + "/close", CloseRequest{Reason: "结案"}
	case "requestReferral":
		return "/v1/referrals", RequestReferralRequest{ProblemID: f.p[i], Level: "street", To: []string{"住建局", "民政局"}[i], Request: "协调 " + uniq}
	case "acceptReferral":
		return r + "/accept", AcceptRequest{Responsible: "张科长", TimeLimit: "3 working_days"}
	case "declineReferral":
		return r + "/decline", ReasonRequest{Reason: "不属于本部门"}
	case "startReferral":
		return r + "/start", NoteRequest{Note: "开始"}
	case "completeReferral":
		return r + "/complete", CompleteRequest{Outcome: "电梯已安装"}
	case "cancelReferral":
		return r + "/cancel", ReasonRequest{Reason: "撤销"}
	case "escalateReferral":
		return r + "/escalate", EscalateRequest{Level: "department", To: []string{"住建局", "民政局"}[i], Reason: "街道无法解决"}
	case "listHouseholds", "listDeadlines", "listAlerts":
		return map[string]string{"listHouseholds": "/v1/households", "listDeadlines": "/v1/deadlines", "listAlerts": "/v1/alerts"}[op] + scopeQ, nil
	case "listVisits":
		return "/v1/visits" + scopeQ + "&outcome=completed,refused&sort=-occurred", nil
	case "listVisitsDue":
		return "/v1/visits/due" + scopeQ + "&within=7d", nil
	case "listProblems":
		return "/v1/problems" + scopeQ + "&status=open,in_progress&sort=due", nil
	case "listReferrals":
		return "/v1/referrals" + scopeQ + "&department=" + []string{"住建局", "民政局"}[i] + "&status=requested", nil
	case "getMeasures":
		return "/v1/measures" + scopeQ, nil
	case "getCoverage":
		return "/v1/measures/coverage?period=2026-03&community=" + loc[0], nil
	case "alertCounts":
		return "/v1/alerts/counts", nil
	case "getMeasureFlags":
		return "/v1/measures/flags", nil
	case "amendPeriod":
		return "/v1/measures/periods/2026-03/amend", AmendPeriodRequest{Community: loc[0], Reason: "补录 " + uniq,
			Figures: domain.PeriodFigures{Coverage: domain.Tally{Num: 1, Den: 1}}}
	case "getCalendar":
		return "/v1/calendar", nil
	case "drawSpotChecks":
		return "/v1/spot-checks", DrawSpotChecksRequest{Community: f.spot[i], Period: "2026-03", Inspectors: []string{"纪工委刘"}}
	case "recordSpotCheckFinding":
		return "/v1/spot-checks/" + f.spot[i] + "/2026-03/findings", FindingRequest{HouseholdID: f.h[i], Version: 1, Result: domain.FindingConfirmed}
	case "getSpotChecks":
		return "/v1/spot-checks/" + f.spot[i] + "/2026-03", nil
	case "openSurvey":
		return "/v1/surveys", OpenSurveyRequest{Community: f.spot[i], Period: "2026-H1", Surveyed: 10}
	case "recordSurveyResponse":
		return "/v1/surveys/" + f.spot[i] + "/2026-H1/responses", SurveyResponseRequest{HouseholdID: "s" + uniq, Satisfied: new(n%2 == 0)}
	case "closeSurvey":
		return "/v1/surveys/" + f.spot[i] + "/2026-H1/close", nil
	case "getSurvey":
		return "/v1/surveys/" + f.spot[i] + "/2026-H1", nil
	case "openFestivalCampaign":
		return "/v1/festival-campaigns", OpenFestivalCampaignRequest{Community: f.spot[i], Festival: "mid_autumn", Year: now.Year(),
			Starts: now.Add(-time.Hour).Format(time.RFC3339), Due: now.Add(10 * 24 * time.Hour).Format(time.RFC3339)}
	case "getFestivalCampaign":
		return "/v1/festival-campaigns/" + f.spot[i] + "/" + domain.FestivalCampaignID(now.Year(), domain.FestivalSpring), nil
	case "listRelief":
		return "/v1/relief?community=" + loc[0] + "&period=2026-03", nil
	case "listRectifications":
		return "/v1/rectifications?community=" + loc[0] + "&status=open", nil
	case "getRectification":
		return "/v1/rectifications/" + f.rect[i], nil
	case "recordRectificationInterview":
		return "/v1/rectifications/" + f.rect[i] + "/interviews", InterviewRequest{Interviewer: "街道张书记", Interviewee: "社区王书记",
			HeldAt: now, Minutes: "约谈 " + uniq}
	case "reviewRectification":
		return "/v1/rectifications/" + f.rect[i] + "/review", ReviewRequest{Result: domain.ReviewFailed, Findings: "回头看 " + uniq}
	case "publishCalendarYear":
		return "/v1/calendar/2030", CalendarYearRequest{Off: []string{"2030-01-01"}, Notice: CalendarNotice{Title: "test", Number: "test-only", Date: "2029-11-01"}}
	case "assignCommunitySupervisor":
		return "/v1/communities/" + loc[0] + "/supervisor", SupervisorRequest{Supervisor: "书记" + uniq}
	case "assignDepartmentSupervisor":
		return "/v1/departments/住建局/supervisor", SupervisorRequest{Supervisor: "科长" + uniq}
	case "getHousehold":
		return h, nil
	case "householdAsOf":
		return h + "/as-of?at=" + url.QueryEscape(now.Format(time.RFC3339)), nil
	case "verifyHouseholdChain":
		return h + "/chain", nil
	case "householdAudit":
		return h + "/audit", nil
	case "householdSensitiveReads":
		return h + "/sensitive-reads?limit=10", nil
	case "getProblem":
		return p, nil
	case "problemAudit":
		return p + "/audit?format=csv", nil
	case "getReferral":
		return r, nil
	case "requestErasure":
		return h + "/erasure", ErasureRequestBody{RequestID: "er" + uniq, Scope: "member", MemberID: "m1", LegalBasis: "consent_withdrawn", Reference: "R-" + uniq}
	case "approveErasure":
		return h + "/erasure/no-such-request/approve", nil
	case "listErasures":
		return h + "/erasure", nil
	case "householdConsent":
		return h + "/consent", nil
	case "previewRetention":
		return "/v1/retention/preview", nil
	case "listSensitiveReads":
		return "/v1/sensitive-reads?limit=5", nil
	}
	return "", nil
}

// scoped reports whether an operation has in-scope and out-of-scope
// subjects (rather than filtering its results to the caller's scope).
func scoped(op string) bool {
	switch op {
	case "health", "ready", "metrics", "openapi", "whoami", "createToken", "listTokens", "revokeToken", "setTokenExpiry", "streamEvents", "alertCounts", "getMeasureFlags",
		"getCalendar", "publishCalendarYear", "assignCommunitySupervisor", "assignDepartmentSupervisor", "listEventSchemas", "getEventSchema", "listSensitiveReads", "previewRetention",
		"signIn", "signOut", "listUsers", "createUser", "disableUser", "enableUser", "setUserExpiry",
		"listConsumers", "ackConsumer", "createWebhook", "listWebhooks", "getWebhook", "deleteWebhook", "listWebhookDeliveries", "replayWebhookDelivery",
		"grantWebhook", "withdrawWebhookGrant":
		return false
	}
	return true
}

// TestRouteRoleScopeTable drives every route as every role, in and out of
// scope: a role the route does not admit gets 403 role_forbidden; an
// admitted role gets 404 …_not_found exactly when the subject is outside
// its scope (auditors and admins have none; decision 0088: as if it did
// not exist), 403 out_of_scope for a household registered into a grid
// outside it or a list filtered on one, and no 401/403/404 otherwise.
// Every request and response is checked against the OpenAPI document, and
// every documented operation must have been exercised.
func TestRouteRoleScopeTable(t *testing.T) {
	e := newEnv(t, nil)
	f := seed(t, e)
	tokens := map[identity.Role]string{}
	for _, p := range []identity.Principal{
		{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true},
		{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true},
		{Name: "审计", Role: identity.RoleAuditor},
		{Name: "住建局", Role: identity.RoleDepartment, Department: "住建局"},
		{Name: "大屏", Role: identity.RoleIntegrator},
		{Name: "隐私官", Role: identity.RolePrivacyOfficer},
	} {
		tokens[p.Role] = e.token(p)
	}
	tokens[identity.RoleAdmin] = e.admin
	// Reads first: the commands below change the fixtures (a cancelled
	// referral no longer lets its department read the problem).
	routes := slices.Clone(e.srv.routes)
	slices.SortStableFunc(routes, func(a, b route) int {
		ga, gb := a.method == "GET", b.method == "GET"
		switch {
		case ga && !gb:
			return -1
		case gb && !ga:
			return 1
		}
		return 0
	})
	n := 0
	for _, rt := range routes {
		for _, role := range identity.Roles() {
			for _, in := range []bool{true, false} {
				if !in && !scoped(rt.op) {
					continue
				}
				n++
				path, body := f.request(rt.op, in, n)
				if path == "" {
					t.Fatalf("no request for operation %s", rt.op)
				}
				status, code := e.status(rt, path, tokens[role], body)
				name := fmt.Sprintf("%s %s as %s (in scope: %v)", rt.method, path, role, in)
				admitted := rt.roles == nil || slices.Contains(rt.roles, role)
				unscoped := role == identity.RoleAdmin || role == identity.RoleAuditor || role == identity.RoleIntegrator || role == identity.RolePrivacyOfficer
				switch {
				case !admitted:
					if status != 403 || code != "role_forbidden" {
						t.Errorf("%s: %d %s, want 403 role_forbidden", name, status, code)
					}
				case in || unscoped || rt.roles == nil:
					if status == 401 || status == 403 || status >= 500 {
						t.Errorf("%s: %d %s, want access", name, status, code)
					}
				case rt.op == "registerHousehold" || (strings.HasPrefix(rt.op, "list") && !strings.Contains(rt.path, "{id}")) ||
					rt.op == "getMeasures" || rt.op == "getCoverage" || rt.op == "amendPeriod":
					// A new household in a grid outside the caller's, or a
					// list (or measure) filtered on one: it names no
					// record, so 403 tells nothing. A list under a record
					// (a household's erasure requests) answers as the
					// record does.
					if status != 403 || code != "out_of_scope" {
						t.Errorf("%s: %d %s, want 403 out_of_scope", name, status, code)
					}
				default:
					// A record outside the caller's scope answers as one
					// that does not exist (decision 0088).
					if status != 404 || !strings.HasSuffix(code, "_not_found") {
						t.Errorf("%s: %d %s, want 404 …_not_found", name, status, code)
					}
				}
			}
		}
	}
	if m := e.val.missing(); len(m) > 0 {
		t.Errorf("operations never exercised: %v", m)
	}
	t.Logf("%d requests over %d routes", n, len(routes))
}

// status sends one request and returns its status and problem code; an
// event stream is closed as soon as its headers arrive.
func (e *testEnv) status(rt route, path, token string, body any) (int, string) {
	e.t.Helper()
	if !rt.stream {
		r := e.do(rt.method, path, token, body)
		code := ""
		if r.status >= 400 {
			code = r.problem(e.t).Code
		}
		return r.status, code
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := nethttp.NewRequestWithContext(ctx, rt.method, e.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		b, err := io.ReadAll(res.Body)
		if err != nil {
			e.t.Fatal(err)
		}
		return res.StatusCode, resp{status: res.StatusCode, header: res.Header, body: b}.problem(e.t).Code
	}
	return res.StatusCode, ""
}
