package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
)

var (
	clockBinOnce sync.Once
	clockBinPath string
	clockBinErr  error
)

// clockBinary builds doorstep with the test clock (the tag
// doorstep_testclock), whatever this test binary was built with: the
// year-end story needs a day past the shipped calendar on every day the
// suite runs.
func clockBinary(t *testing.T) string {
	t.Helper()
	clockBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "doorstep-clock-bin")
		if err != nil {
			clockBinErr = err
			return
		}
		clockBinPath = filepath.Join(dir, "doorstep")
		out, err := exec.Command("go", "build", "-tags", clock.Tag, "-o", clockBinPath, ".").CombinedOutput()
		if err != nil {
			clockBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if clockBinErr != nil {
		t.Fatal(clockBinErr)
	}
	return clockBinPath
}

// TestYearEndStory is issue 11's story: a fresh demo on 2027-03-01, with no
// 2027 calendar shipped, records a visit, reports a coordinated problem and
// assigns it with "3 working_days": the command is accepted and the
// deadline shows as provisional, and is listed as such. Publishing a 2027
// calendar (test data: 2 March a holiday) reschedules it by an event.
func TestYearEndStory(t *testing.T) {
	const today = "2027-03-01T10:00:00+08:00"
	dir := t.TempDir()
	bin := clockBinary(t)
	t.Setenv(clock.EnvVar, today)
	p := startDemo(t, dir, bin, "demo", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-households", "40", "-log-format", "json")
	admin := p.token
	if !strings.HasPrefix(admin, "ds_") {
		t.Fatalf("no admin token:\n%s", p.out)
	}
	p.must(200, "POST", "/v1/households/demo-zhang/visits", admin, evidence("admin", map[string]any{"occurred_at": "2027-03-01T09:00:00+08:00",
		"mode": "home", "outcome": "completed", "summary": "年后走访"}), "Idempotency-Key", "ye-visit")
	pr := p.must(201, "POST", "/v1/problems", admin, map[string]any{"problem_id": "ye-alarm", "household_id": "demo-zhang", "description": "需要安装一键呼叫报警器",
		"category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"}, "Idempotency-Key", "ye-problem")
	if pr["id"] != "ye-alarm" {
		t.Fatalf("problem %v", pr)
	}
	p.must(200, "POST", "/v1/problems/ye-alarm/assign", admin, map[string]any{"to": "王书记", "reason": "需要社区协调", "time_limit": "3 working_days"})
	got := p.must(200, "GET", "/v1/problems/ye-alarm", admin, nil)
	// Monday 1 March + 3 working days, Monday to Friday: Thursday 4 March.
	if got["due"] != "2027-03-04T23:59:59.999999999+08:00" || got["provisional"] != true ||
		got["provisional_note"] != "provisional: the 2027 holiday calendar is not yet loaded" || got["provisional_note_zh"] != "暂定：2027年节假日安排尚未导入" {
		t.Fatalf("assigned problem: %v", got)
	}
	waitFor(t, 60*time.Second, "the provisional deadline to be listed", func() (bool, string) {
		r := p.call("GET", "/v1/deadlines?provisional=true", admin, nil)
		return r.status == 200 && strings.Contains(string(r.body), `"subject":"ye-alarm"`), string(r.body)
	})

	// Test data, not an official notice: 2 March a holiday.
	p.must(200, "PUT", "/v1/calendar/2027", admin, map[string]any{"off": []string{"2027-01-01", "2027-03-02"}, "work": []string{},
		"notice": map[string]any{"title": "test data", "number": "test-only", "date": "2027-03-01"}})
	waitFor(t, 60*time.Second, "the deadline to be rescheduled", func() (bool, string) {
		got = p.must(200, "GET", "/v1/problems/ye-alarm", admin, nil)
		return got["due"] == "2027-03-05T23:59:59.999999999+08:00" && got["provisional"] == nil, fmt.Sprint(got)
	})
	trail := p.call("GET", "/v1/problems/ye-alarm/audit?format=jsonl", admin, nil)
	if trail.status != 200 || !strings.Contains(string(trail.body), "problem.deadline_rescheduled") {
		t.Fatalf("the rescheduling is not in the audit trail: %d %s", trail.status, trail.body)
	}
	r := p.call("GET", "/v1/deadlines?provisional=true", admin, nil)
	if strings.Contains(string(r.body), `"subject":"ye-alarm"`) {
		t.Fatalf("still listed as provisional: %s", r.body)
	}
	p.stop()
}

// waitFor polls cond until it holds, failing after limit with the last detail.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var detail string
	for start := time.Now(); time.Since(start) < limit; time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, detail = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out waiting for %s: %s", what, detail)
}
