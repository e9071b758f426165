package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsoleLedgersRecordsAndLive drives the console's ledgers, record
// forms, reveal and live updates in a real headless Chromium against a
// real `doorstep demo` (issue 19):
//   - a supervisor filters the problem ledger to a grid's breached
//     problems, sorts it by due date, pages it, and exports it as CSV (the
//     file holds every filtered row); the referral ledger lists referrals;
//   - the supervisor's open worklist shows, by itself, a referral made
//     through the API after the page was drawn (the test waits for the
//     stream to be followed and for the row, never for time);
//   - a grid worker on a 390-px screen sends an empty problem form and gets
//     the API's Chinese message at the field, reports a problem submitting
//     twice (one problem), notes progress, meets a conflict on a progress
//     note (If-Match: the changed status and version are shown), refers
//     the problem, and records a return visit on a resolved problem;
//   - the worker reveals the members' sensitive fields for a purpose from
//     the list (without one, the API's refusal), and the reveal is in
//     GET /v1/sensitive-reads with its purpose.
//
// Each new screen is checked with axe-core and written to docs/screenshots/.
func TestConsoleLedgersRecordsAndLive(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium at %s (scripts/test installs it: apt-get install chromium): %v", chromiumPath, err)
	}
	dir := t.TempDir()
	p := startDemo(t, dir, binary(t), "demo", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-households", "200")
	admin := p.token
	if admin == "" {
		t.Fatalf("the demo printed no admin token:\n%s", p.out)
	}
	// A household of a grid with a breached problem.
	var hh, community, grid, problemID string
	for _, a := range p.must(200, "GET", "/v1/alerts?stage=breached&limit=100", admin, nil)["alerts"].([]any) {
		m := a.(map[string]any)
		if s, _ := m["stream"].(string); strings.HasPrefix(s, "problem-") && m["household_id"] != nil {
			hh, community, grid, problemID = m["household_id"].(string), m["community"].(string), m["grid"].(string), strings.TrimPrefix(s, "problem-")
			break
		}
	}
	if hh == "" {
		t.Fatal("the demo town has no breached problem deadline")
	}
	const pw = "console test password"
	for _, u := range []map[string]any{
		{"login": "sup", "name": "督导员", "role": "supervisor", "communities": []string{community}},
		{"login": "gw", "name": "网格员甲", "role": "worker", "grids": []string{grid}},
		{"login": "adm", "name": "管理员", "role": "admin"},
	} {
		u["password"] = pw
		p.must(201, "POST", "/v1/users", admin, u)
	}

	shots := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless,
		chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 8*time.Minute)
	defer cancelT()
	// The browser starts with the first Run, bound to its context: start
	// it on ctx, so that the steps' own deadlines below do not end it.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 4)
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
			done <- e.GUID
		}
	})

	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		// A guard, not a measure: a step that never sees its condition
		// fails with the page instead of hanging until the test's deadline.
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var html string
			_ = chromedp.Run(ctx, chromedp.OuterHTML("main", &html))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, html)
		}
	}
	shot := func(name, at string) {
		t.Helper()
		var png []byte
		scroll := chromedp.Evaluate(`window.scrollTo(0, 0)`, nil)
		if at != "" {
			scroll = chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).scrollIntoView()`, at), nil)
		}
		run("screenshot "+name, scroll, chromedp.CaptureScreenshot(&png))
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	axe := func(screen string) {
		t.Helper()
		var res []struct {
			ID, Impact, Help string
			Nodes            []struct{ Target []any }
		}
		run("axe on "+screen, chromedp.Evaluate(axeJS, nil), chromedp.Evaluate(
			`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => ({target: n.target}))})))`,
			&res, func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) }))
		for _, v := range res {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe on %s: %s violation %s (%s) at %v", screen, v.Impact, v.ID, v.Help, v.Nodes)
			}
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	attr := func(sel, name string) string {
		t.Helper()
		var s string
		var ok bool
		run("read "+sel+"@"+name, chromedp.AttributeValue(sel, name, &s, &ok, chromedp.ByQuery))
		return s
	}
	signIn := func(login string) {
		t.Helper()
		run("sign in as "+login, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible("#login", chromedp.ByID),
			chromedp.SendKeys("#login", login, chromedp.ByID), chromedp.SendKeys("#password", pw, chromedp.ByID),
			chromedp.Click("#signin-btn", chromedp.ByID), chromedp.WaitVisible("#signout", chromedp.ByID))
	}
	// fresh navigates through another screen first, so that the form
	// waited for is a new one (a new idempotency key).
	fresh := func(what, hash, ready string) {
		t.Helper()
		run(what, chromedp.Navigate(p.base+"/#/households"), chromedp.WaitVisible(`form[role="search"]`, chromedp.ByQuery),
			chromedp.Navigate(p.base+"/"+hash), chromedp.WaitVisible(ready, chromedp.ByQuery))
	}
	han := regexp.MustCompile(`\p{Han}`)

	// ---- Ledgers: the supervisor filters, sorts, pages and exports. ----
	signIn("sup")
	run("ledger", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.base+"/#/ledger/problems"), chromedp.WaitVisible("#ledger-table", chromedp.ByID))
	if n := attr("#ledger-table", "data-rows"); n != "25" {
		t.Fatalf("the first page of the problem ledger has %s rows, want 25 (the demo town has more)", n)
	}
	run("next page", chromedp.Click("#page-next", chromedp.ByID), chromedp.WaitVisible(`//caption[contains(., "26–")]`, chromedp.BySearch))
	// The day the problem was reported, in China's time, as both ends of
	// the date filter (both inclusive).
	reportedAt, err := time.Parse(time.RFC3339, p.must(200, "GET", "/v1/problems/"+problemID, admin, nil)["reported_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	day := reportedAt.In(time.FixedZone("CST", 8*3600))
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, day.Location())
	want := p.must(200, "GET", "/v1/problems?stage=breached&limit=500&grid="+url.QueryEscape(grid)+"&created_from="+url.QueryEscape(from.Format(time.RFC3339))+
		"&created_to="+url.QueryEscape(from.AddDate(0, 0, 1).Format(time.RFC3339)), admin, nil)["problems"].([]any)
	run("filter", chromedp.SetValue("#lf-stage", "breached", chromedp.ByID), chromedp.SetValue("#lf-grid", grid, chromedp.ByID),
		chromedp.SetValue("#lf-created_from", from.Format(time.DateOnly), chromedp.ByID), chromedp.SetValue("#lf-created_to", from.Format(time.DateOnly), chromedp.ByID),
		chromedp.Click("#ledger-apply", chromedp.ByID), chromedp.WaitVisible(fmt.Sprintf(`#ledger-table[data-rows="%d"] tr[data-id=%q]`, min(len(want), 25), problemID), chromedp.ByQuery))
	if n := attr("#ledger-table", "data-rows"); n != fmt.Sprint(min(len(want), 25)) {
		t.Errorf("the filtered ledger shows %s rows, the API has %d", n, len(want))
	}
	if s := text("#ledger-table tbody"); strings.Contains(s, "即将到期") {
		t.Errorf("the breached filter shows approaching rows: %q", s)
	}
	run("sort by due", chromedp.Click("#sort-due", chromedp.ByID), chromedp.WaitVisible(`th[aria-sort="ascending"] #sort-due`, chromedp.ByQuery))
	run("sort by due, descending", chromedp.Click("#sort-due", chromedp.ByID), chromedp.WaitVisible(`th[aria-sort="descending"] #sort-due`, chromedp.ByQuery))
	shot("ledger-problems", "")
	axe("problem ledger")
	run("download", browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(downloads).WithEventsEnabled(true),
		chromedp.Click("#export", chromedp.ByID), chromedp.WaitVisible("#exported", chromedp.ByID))
	var guid string
	select {
	case guid = <-done:
	case <-ctx.Done():
		t.Fatal("the CSV download did not complete")
	}
	csv, err := os.ReadFile(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(strings.TrimPrefix(string(csv), "\ufeff"), "\r\n"), "\r\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "id,number,") || !strings.Contains(string(csv), problemID) {
		t.Errorf("the CSV has %d lines (want %d rows and a header) or lacks %s: %.300q", len(lines), len(want), problemID, csv)
	}
	run("referral ledger", chromedp.Navigate(p.base+"/#/ledger/referrals"), chromedp.WaitVisible("#ledger-table", chromedp.ByID))
	if n := attr("#ledger-table", "data-rows"); n == "0" {
		t.Errorf("the referral ledger is empty")
	}
	axe("referral ledger")
	run("ledger in English", chromedp.Click("#lang", chromedp.ByID), chromedp.WaitVisible(`//h1[text()="Ledgers · Referrals"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//button[@id="export"][text()="Export CSV (every filtered row)"]`, chromedp.BySearch),
		chromedp.Click("#lang", chromedp.ByID), chromedp.WaitVisible(`//h1[text()="台账 · 转介"]`, chromedp.BySearch))

	// ---- Live: the worklist shows a referral made after it was drawn. ----
	reported := p.must(201, "POST", "/v1/problems", admin, map[string]any{"household_id": hh, "description": "楼道照明损坏",
		"category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
	run("worklist followed", chromedp.Navigate(p.base+"/#/worklists"), chromedp.WaitVisible("#awaiting", chromedp.ByID),
		chromedp.WaitVisible(`main[data-live="on"]`, chromedp.ByQuery))
	ref := p.must(201, "POST", "/v1/referrals", admin, map[string]any{"problem_id": reported["id"], "level": "street", "to": "街道城管办", "request": "维修楼道照明"})
	run("the new referral appears by itself", chromedp.WaitVisible(fmt.Sprintf(`[id="accept-%s"]`, ref["id"]), chromedp.ByQuery))
	if pos := attr("main", "data-position"); pos == "" {
		t.Errorf("the worklist was not read again after an event")
	}
	shot("worklists-live", "#awaiting")
	// The dashboard too: a change of a household's risk in the community
	// makes it read itself again.
	run("dashboard followed", chromedp.Navigate(p.base+"/#/dashboard"), chromedp.WaitVisible("#breached", chromedp.ByID),
		chromedp.WaitVisible(`main[data-live="on"]`, chromedp.ByQuery))
	risk := map[bool]string{true: "red", false: "yellow"}[p.must(200, "GET", "/v1/households/"+hh, admin, nil)["risk"] != "red"]
	p.must(200, "POST", "/v1/households/"+hh+"/risk", admin, map[string]any{"to": risk, "reason": "复核"})
	run("the dashboard reads itself again", chromedp.WaitVisible(`main[data-position]`, chromedp.ByQuery), chromedp.WaitVisible("#breached", chromedp.ByID))
	run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#login", chromedp.ByID))

	// ---- Visits due this week: a grid worker's worklist (GET /v1/visits/due). ----
	var vgrid string
	for _, h := range p.must(200, "GET", "/v1/visits/due?within=7d&limit=100", admin, nil)["households"].([]any) {
		vgrid = h.(map[string]any)["grid"].(string)
		break
	}
	if vgrid == "" {
		t.Fatal("the demo town has no household with a visit due within 7 days")
	}
	p.must(201, "POST", "/v1/users", admin, map[string]any{"login": "vw", "name": "网格员乙", "role": "worker", "grids": []string{vgrid}, "password": pw})
	var due []string
	for _, h := range p.must(200, "GET", "/v1/visits/due?within=7d&limit=100&grid="+url.QueryEscape(vgrid), admin, nil)["households"].([]any) {
		due = append(due, h.(map[string]any)["household_id"].(string))
	}
	signIn("vw")
	run("visits due this week", chromedp.Navigate(p.base+"/#/worklists"), chromedp.WaitVisible("#visits-due", chromedp.ByID))
	if n := attr("#visits-due", "data-count"); n != fmt.Sprint(len(due)) {
		t.Errorf("the worklist shows %s visits due, the API %d for grid %s", n, len(due), vgrid)
	}
	for _, id := range due {
		run("visit due "+id, chromedp.WaitVisible(fmt.Sprintf(`#visits-due a[href="#/household/%s"]`, url.PathEscape(id)), chromedp.ByQuery))
	}
	if s := text("#visits-due"); !strings.Contains(s, vgrid) {
		t.Errorf("the visits due do not show the grid %s: %q", vgrid, s)
	}
	shot("worklists-visits-due", "#visits-due")
	axe("visits due this week")
	run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#login", chromedp.ByID))

	// ---- Record forms: a grid worker on a phone. ----
	signIn("gw")
	problems := func() int {
		return len(p.must(200, "GET", "/v1/households/"+hh, admin, nil)["problems"].([]any))
	}
	before := problems()
	run("problem form", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(p.base+"/#/household/"+url.PathEscape(hh)+"/problem"), chromedp.WaitVisible("#problem-form-save", chromedp.ByID),
		chromedp.Click("#problem-form-save", chromedp.ByID), chromedp.WaitVisible(`#f-description[aria-invalid="true"]`, chromedp.ByQuery))
	if s := text("#f-description-err"); !strings.Contains(s, "问题描述为必填项") {
		t.Errorf("the empty description does not show the API's Chinese message: %q", s)
	}
	shot("problem-form-390px", "")
	axe("problem form")
	run("report twice", chromedp.SendKeys("#f-description", "老人行动不便，需要助浴服务", chromedp.ByID),
		chromedp.SetValue("#f-category", "service", chromedp.ByID), chromedp.SetValue("#f-handling_class", "coordinated", chromedp.ByID),
		chromedp.SetValue("#f-colour", "yellow", chromedp.ByID), chromedp.SetValue("#f-urgency", "ordinary", chromedp.ByID),
		chromedp.Click("#problem-form-save", chromedp.ByID), chromedp.WaitVisible("#problem-form-saved", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('problem-form-saved').remove()`, nil),
		chromedp.Click("#problem-form-save", chromedp.ByID), chromedp.WaitVisible("#problem-form-saved", chromedp.ByID))
	newID, pos := attr("#problem-form-saved", "data-id"), attr("#problem-form-saved", "data-position")
	p.must(200, "GET", "/v1/households/"+hh+"?wait_for="+url.QueryEscape(pos), admin, nil)
	if after := problems(); after != before+1 {
		t.Errorf("two submissions of one problem form: %d problems, want %d", after, before+1)
	}
	// A progress note.
	fresh("progress form", "#/problem/"+newID+"/progress", "#progress-form-save")
	run("note progress", chromedp.SendKeys("#f-note", "已联系助浴机构", chromedp.ByID), chromedp.SetValue("#f-follow_up", "phone", chromedp.ByID),
		chromedp.Click("#progress-form-save", chromedp.ByID), chromedp.WaitVisible("#progress-form-saved", chromedp.ByID))
	// Someone else notes progress while the form is open: a conflict,
	// with what changed.
	fresh("progress form again", "#/problem/"+newID+"/progress", "#progress-form-save")
	pb := p.must(200, "GET", "/v1/problems/"+newID, admin, nil)
	p.must(200, "POST", "/v1/problems/"+newID+"/assign", admin, map[string]any{"to": "社工小王", "time_limit": "5 working_days", "reason": "转由社工跟进"})
	run("conflict", chromedp.SendKeys("#f-note", "再次电话确认", chromedp.ByID),
		chromedp.Click("#progress-form-save", chromedp.ByID), chromedp.WaitVisible("#conflict", chromedp.ByID))
	if s := text("#conflict"); !strings.Contains(s, "社工小王") || !strings.Contains(s, fmt.Sprint(pb["version"])) {
		t.Errorf("the conflict does not show the new assignee and the version the form was opened on (%v): %q", pb["version"], s)
	}
	shot("problem-conflict-390px", "#conflict")
	axe("progress note conflict")
	// A referral of the problem.
	fresh("referral form", "#/problem/"+newID+"/referral", "#referral-form-save")
	run("refer", chromedp.SetValue("#f-level", "street", chromedp.ByID), chromedp.SendKeys("#f-to", "街道养老服务中心", chromedp.ByID),
		chromedp.SendKeys("#f-request", "安排助浴服务", chromedp.ByID),
		chromedp.Click("#referral-form-save", chromedp.ByID), chromedp.WaitVisible("#referral-form-saved", chromedp.ByID))
	pos = attr("#referral-form-saved", "data-position")
	referred := false
	for _, r := range p.must(200, "GET", "/v1/referrals?status=requested&limit=500&wait_for="+url.QueryEscape(pos), admin, nil)["referrals"].([]any) {
		m := r.(map[string]any)
		referred = referred || (m["problem_id"] == newID && m["department"] == "街道养老服务中心")
	}
	if !referred {
		t.Errorf("the referral of %s from the form is not in the referral worklist", newID)
	}
	axe("referral form")
	// A return visit to a resolved problem.
	other := p.must(201, "POST", "/v1/problems", admin, map[string]any{"household_id": hh, "description": "水龙头漏水",
		"category": "service", "handling_class": "immediate", "colour": "green", "urgency": "ordinary"})
	resolved := p.must(200, "POST", "/v1/problems/"+other["id"].(string)+"/resolve", admin, map[string]any{"summary": "已更换水龙头"})
	p.must(200, "GET", "/v1/households/"+hh+"?wait_for="+url.QueryEscape(resolved["position"].(string)), admin, nil)
	fresh("return visit form", "#/problem/"+other["id"].(string)+"/revisit", "#revisit-form-save")
	run("return visit", chromedp.SetValue("#f-held", "true", chromedp.ByID), chromedp.SetValue("#f-method", "phone", chromedp.ByID),
		chromedp.SetValue("#f-satisfaction", "5", chromedp.ByID),
		chromedp.Click("#revisit-form-save", chromedp.ByID), chromedp.WaitVisible("#revisit-form-saved", chromedp.ByID))
	revisited := false
	for _, e := range p.must(200, "GET", "/v1/problems/"+other["id"].(string)+"/audit", admin, nil)["entries"].([]any) {
		revisited = revisited || e.(map[string]any)["type"] == "problem.revisited"
	}
	if !revisited {
		t.Errorf("the return visit from the form is not in the problem's audit trail")
	}
	shot("return-visit-390px", "")
	axe("return visit form")

	// ---- Reveal with a purpose. ----
	run("household file", chromedp.Navigate(p.base+"/#/household/"+url.PathEscape(hh)), chromedp.WaitVisible("#reveal-btn", chromedp.ByID),
		chromedp.Click("#reveal-btn", chromedp.ByID), chromedp.WaitVisible("#reveal-msg .error", chromedp.ByQuery))
	if s := text("#reveal-msg"); !han.MatchString(s) || !strings.Contains(s, "用途") {
		t.Errorf("revealing without a purpose does not show the API's Chinese refusal: %q", s)
	}
	run("reveal", chromedp.SetValue("#purpose", "visit_preparation", chromedp.ByID), chromedp.Click("#reveal-btn", chromedp.ByID),
		chromedp.WaitVisible("#revealed", chromedp.ByID))
	shot("reveal-390px", "#h-members")
	axe("reveal")
	found := false
	for _, r := range p.must(200, "GET", "/v1/sensitive-reads?limit=50", admin, nil)["reads"].([]any) {
		m := r.(map[string]any)
		found = found || (m["household_id"] == hh && m["purpose"] == "visit_preparation" && m["actor"] == "网格员甲")
	}
	if !found {
		t.Errorf("the reveal for visit preparation by 网格员甲 is not in GET /v1/sensitive-reads")
	}

	run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#login", chromedp.ByID))

	// ---- Admin: an expiry, the calendar years, a subscription deleted. ----
	hook := p.must(201, "POST", "/v1/webhooks", admin, map[string]any{"url": "https://receiver.example/doorstep", "types": []string{"visit.recorded"}})["subscription"].(map[string]any)
	signIn("adm")
	run("admin", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.base+"/#/admin"), chromedp.WaitVisible("#expiry-form", chromedp.ByID),
		chromedp.WaitVisible(fmt.Sprintf(`[id="delete-%s"]`, hook["id"]), chromedp.ByQuery))
	if s := text("#calendar"); !strings.Contains(s, "2026") {
		t.Errorf("the admin page lacks the calendar year 2026: %q", s)
	}
	run("set an expiry", chromedp.SetValue("#exp-target", "/v1/users/gw/expiry", chromedp.ByID), chromedp.SetValue("#exp-date", "2027-06-30", chromedp.ByID),
		chromedp.Click("#exp-save", chromedp.ByID), chromedp.WaitVisible(`//div[@id="users"]//tr[td[1]="gw"]/td[8][contains(., "2027")]`, chromedp.BySearch))
	for _, u := range p.must(200, "GET", "/v1/users", admin, nil)["users"].([]any) {
		if m := u.(map[string]any); m["login"] == "gw" && !strings.HasPrefix(fmt.Sprint(m["expires_at"]), "2027-06-29T16:00:00") {
			t.Errorf("user gw expires at %v, want 2027-06-30 00:00 China time", m["expires_at"])
		}
	}
	shot("admin-calendar-webhooks", "#h-expiry")
	axe("admin")
	// By the keyboard: the button focused, Enter.
	run("delete the subscription", chromedp.Focus(fmt.Sprintf(`[id="delete-%s"]`, hook["id"]), chromedp.ByQuery), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(fmt.Sprintf(`[id="delete-%s"]`, hook["id"]), chromedp.ByQuery))
	if n := len(p.must(200, "GET", "/v1/webhooks", admin, nil)["webhooks"].([]any)); n != 0 {
		t.Errorf("%d subscriptions after the deletion from the page, want 0", n)
	}
}
