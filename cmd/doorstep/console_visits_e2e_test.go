package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestConsoleVisitsLedgerAndDepartmentLive drives, in a real headless
// Chromium against a real `doorstep demo` (issue 19, decisions 0143 and
// 0144):
//   - a grid worker on a 390-px screen opens the visits ledger (GET
//     /v1/visits): only its grid's visits, as many as the API gives; it
//     filters refusals, sorts oldest first, exports the filtered rows as
//     CSV (the file holds every row the API has), and reads it in English;
//     another grid's ledger is refused in the page;
//   - a department user's worklist follows the event stream and shows, by
//     itself, a referral addressed to the department made through the API
//     after the page was drawn (the test waits for the row, never for time).
func TestConsoleVisitsLedgerAndDepartmentLive(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium at %s (scripts/test installs it: apt-get install chromium): %v", chromiumPath, err)
	}
	dir := t.TempDir()
	// 450 households: three communities (216 a community), so that an
	// auditor's dashboard draws a trend line for each.
	p := startDemo(t, dir, binary(t), "demo", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-households", "450")
	admin := p.token
	if admin == "" {
		t.Fatalf("the demo printed no admin token:\n%s", p.out)
	}
	// A grid with refused visits, and another grid.
	var grid, other string
	for _, v := range p.must(200, "GET", "/v1/visits?outcome=refused&limit=100", admin, nil)["visits"].([]any) {
		if g := v.(map[string]any)["grid"].(string); grid == "" {
			grid = g
		} else if g != grid && other == "" {
			other = g
		}
	}
	if grid == "" || other == "" {
		t.Fatal("the demo town has no refused visits in two grids")
	}
	// every reads every page of a visits ledger query through the API.
	every := func(q string) []any {
		var all []any
		for off := 0; ; off += 500 {
			page := p.must(200, "GET", fmt.Sprintf("/v1/visits?limit=500&offset=%d&grid=%s%s", off, url.QueryEscape(grid), q), admin, nil)["visits"].([]any)
			all = append(all, page...)
			if len(page) < 500 {
				return all
			}
		}
	}
	allRows, refused := every(""), every("&outcome=refused")
	const pw = "console test password"
	const dept = "街道城管办"
	for _, u := range []map[string]any{
		{"login": "gw", "name": "网格员甲", "role": "worker", "grids": []string{grid}},
		{"login": "dep", "name": "城管办科员", "role": "department", "department": dept},
		{"login": "aud", "name": "审计员", "role": "auditor"},
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
		run("screenshot "+name, chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).scrollIntoView()`, at), nil), chromedp.CaptureScreenshot(&png))
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
	attr := func(sel, name string) string {
		t.Helper()
		var s string
		var ok bool
		run("read "+sel+"@"+name, chromedp.AttributeValue(sel, name, &s, &ok, chromedp.ByQuery))
		return s
	}
	// grids returns the grid column of the ledger's rows.
	grids := func() []string {
		t.Helper()
		var gs []string
		run("read the grid column", chromedp.Evaluate(`[...document.querySelectorAll('#ledger-table tbody tr[data-id]')].map(tr => tr.children[2].textContent)`, &gs))
		return gs
	}
	signIn := func(login string) {
		t.Helper()
		run("sign in as "+login, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible("#login", chromedp.ByID),
			chromedp.SendKeys("#login", login, chromedp.ByID), chromedp.SendKeys("#password", pw, chromedp.ByID),
			chromedp.Click("#signin-btn", chromedp.ByID), chromedp.WaitVisible("#signout", chromedp.ByID))
	}

	// ---- The visits ledger: a grid worker on a phone. ----
	signIn("gw")
	run("visits ledger", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(p.base+"/#/ledger/visits"),
		chromedp.WaitVisible(`#ledger-table th[aria-sort="descending"] #sort-occurred`, chromedp.ByQuery))
	if n := attr("#ledger-table", "data-rows"); n != fmt.Sprint(min(len(allRows), 25)) {
		t.Errorf("the visits ledger shows %s rows, the API has %d for grid %s", n, len(allRows), grid)
	}
	for _, g := range grids() {
		if g != grid {
			t.Errorf("the worker of %s sees a visit of grid %s", grid, g)
		}
	}
	shot("ledger-visits", "#export")
	axe("visits ledger")
	run("filter refusals", chromedp.SetValue("#lf-outcome", "refused", chromedp.ByID), chromedp.Click("#ledger-apply", chromedp.ByID),
		chromedp.WaitVisible(fmt.Sprintf(`#ledger-table[data-rows="%d"]`, min(len(refused), 25)), chromedp.ByQuery))
	if got := attr("#ledger-table tbody tr:first-child", "data-id"); got != refused[0].(map[string]any)["id"] {
		t.Errorf("the newest refusal in the page is %s, the API's is %v", got, refused[0].(map[string]any)["id"])
	}
	run("oldest first", chromedp.Click("#sort-occurred", chromedp.ByID), chromedp.WaitVisible(`th[aria-sort="ascending"] #sort-occurred`, chromedp.ByQuery))
	if got, want := attr("#ledger-table tbody tr:first-child", "data-id"), refused[len(refused)-1].(map[string]any)["id"]; got != want {
		t.Errorf("oldest first, the first refusal is %s, want %v", got, want)
	}
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
	if len(lines) != len(refused)+1 || !strings.HasPrefix(lines[0], "id,household_id,community,grid,") || strings.Contains(string(csv), ",completed,") {
		t.Errorf("the CSV has %d lines (want %d refusals and a header) or holds other outcomes: %.300q", len(lines), len(refused), csv)
	}
	run("visits ledger in English", chromedp.Click("#lang", chromedp.ByID), chromedp.WaitVisible(`//h1[text()="Ledgers · Visits"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//label[@for="lf-member"][text()="Team member or recorder"]`, chromedp.BySearch),
		chromedp.Click("#lang", chromedp.ByID), chromedp.WaitVisible(`//h1[text()="台账 · 走访记录"]`, chromedp.BySearch))
	run("another grid's ledger", chromedp.Navigate(p.base+"/#/ledger/visits?grid="+url.QueryEscape(other)),
		chromedp.WaitVisible(`//h1[text()="无权访问"]`, chromedp.BySearch))
	run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#login", chromedp.ByID))

	// ---- A department's worklist follows its referrals' events. ----
	hh := allRows[0].(map[string]any)["household_id"].(string)
	reported := p.must(201, "POST", "/v1/problems", admin, map[string]any{"household_id": hh, "description": "路灯损坏",
		"category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
	signIn("dep")
	run("department worklist followed", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.base+"/#/worklists"),
		chromedp.WaitVisible("#awaiting", chromedp.ByID), chromedp.WaitVisible(`main[data-live="on"]`, chromedp.ByQuery))
	ref := p.must(201, "POST", "/v1/referrals", admin, map[string]any{"problem_id": reported["id"], "level": "street", "to": dept, "request": "修复路灯"})
	run("the department's new referral appears by itself", chromedp.WaitVisible(fmt.Sprintf(`[id="accept-%s"]`, ref["id"]), chromedp.ByQuery))
	if pos := attr("main", "data-position"); pos == "" {
		t.Errorf("the department's worklist was not read again after its referral's event")
	}
	axe("department worklist")
	run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#login", chromedp.ByID))

	// ---- An auditor's dashboard: one trend line per community. ----
	groups := map[string]bool{}
	for _, r := range p.must(200, "GET", "/v1/measures", admin, nil)["rows"].([]any) {
		groups[r.(map[string]any)["group"].(string)] = true
	}
	if len(groups) < 2 {
		t.Fatalf("the demo town's measures have %d communities, want several", len(groups))
	}
	signIn("aud")
	run("auditor's dashboard", chromedp.Navigate(p.base+"/#/dashboard"),
		chromedp.WaitVisible(fmt.Sprintf(`#trend[data-lines="%d"]`, len(groups)), chromedp.ByQuery))
	var nLines, legend int
	run("count the lines", chromedp.Evaluate(`document.querySelectorAll('#trend polyline[data-group]').length`, &nLines),
		chromedp.Evaluate(`document.querySelectorAll('#trend-legend li').length`, &legend))
	if nLines != len(groups) || legend != len(groups) {
		t.Errorf("the trend has %d lines and %d legend entries, the API %d communities", nLines, legend, len(groups))
	}
	shot("dashboard-trend-per-community", "#trend")
	axe("auditor's dashboard")
}
