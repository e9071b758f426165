package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/internal/syncbuf"
)

// The end-to-end tests build the real binary and start `doorstep serve`
// as a child process on a free port in a temp data directory, then drive
// the docs/DOMAIN.md stories over HTTP.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "doorstep-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "doorstep")
		out, err := exec.Command("go", goBuild("-race", "-o", binPath, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// goBuild is `go build args…`, with -tags doorstep_testclock when this test
// binary was built with it: the binary then follows DOORSTEP_TEST_CLOCK,
// which it inherits from the test's environment, as the code under test
// here does (internal/clock).
func goBuild(args ...string) []string {
	if clock.TestBuild {
		args = append([]string{"-tags", clock.Tag}, args...)
	}
	return append([]string{"build"}, args...)
}

// proc is a running doorstep serve.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	base  string
	token string // the admin token, if this start printed one
	out   *bytes.Buffer
	errb  *syncbuf.Buffer
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// start runs `doorstep serve -addr 127.0.0.1:0 -data dir [extra…]` and
// waits for it to print its address.
func start(t *testing.T, dir string, extra ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &bytes.Buffer{}, errb: &syncbuf.Buffer{}}
	p.cmd = exec.Command(binary(t), append([]string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "json"}, extra...)...)
	p.cmd.Stderr = p.errb
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	prevWasTokenHeader := false
	for p.base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("doorstep serve exited before listening:\n%s\n%s", p.out, p.errb.String())
			}
			p.out.WriteString(l + "\n")
			if prevWasTokenHeader {
				p.token = strings.TrimSpace(l)
			}
			prevWasTokenHeader = strings.HasPrefix(l, "admin token")
			if m := listenRE.FindStringSubmatch(l); m != nil {
				p.base = m[1]
			}
		case <-timeout:
			t.Fatalf("doorstep serve did not start in 60 s:\n%s\n%s", p.out, p.errb.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("doorstep serve did not exit cleanly: %v\n%s", err, p.errb.String())
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (p *proc) call(method, path, token string, body any, hdr ...string) reply {
	p.t.Helper()
	r, err := p.try(method, path, token, body, hdr...)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// try is call that returns a transport error (a killed server, say)
// instead of failing the test; safe to use from any goroutine.
func (p *proc) try(method, path, token string, body any, hdr ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}, err
}

// must sends a request that must answer want and returns its JSON.
func (p *proc) must(want int, method, path, token string, body any, hdr ...string) map[string]any {
	p.t.Helper()
	r := p.call(method, path, token, body, hdr...)
	if r.status != want {
		p.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if len(r.body) == 0 || r.body[0] != '{' {
		return nil
	}
	return r.json(p.t)
}

func (p *proc) newToken(admin string, body map[string]any) string {
	p.t.Helper()
	return p.must(201, "POST", "/v1/tokens", admin, body)["token"].(string)
}

func ago(d time.Duration) string { return clock.Now().Add(-d).Format(time.RFC3339) }

func TestEndToEndStories(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	if !strings.HasPrefix(p.token, "ds_") {
		t.Fatalf("first start printed no admin token:\n%s", p.out)
	}
	admin := p.token
	worker := p.newToken(admin, map[string]any{"name": "李四", "role": "worker", "grids": []string{"幸福网格"}})
	sup := p.newToken(admin, map[string]any{"name": "王书记", "role": "supervisor", "communities": []string{"幸福社区"}})
	housing := p.newToken(admin, map[string]any{"name": "住建局", "role": "department", "department": "住建局"})
	auditor := p.newToken(admin, map[string]any{"name": "督查", "role": "auditor"})
	integ := p.newToken(admin, map[string]any{"name": "城市大屏", "role": "integrator"})
	outsider := p.newToken(admin, map[string]any{"name": "赵六", "role": "worker", "grids": []string{"别的网格"}})

	// A command retried across a restart must carry the same content.
	body := map[string]any{"team": []string{"李四"}, "occurred_at": ago(time.Hour), "mode": "phone", "outcome": "completed", "summary": "电话回访"}
	var firstBody []byte
	register := func(id, address, class string) {
		p.must(201, "POST", "/v1/households", worker, map[string]any{"household_id": id, "address": address, "community": "幸福社区",
			"grid": "幸福网格", "responsible_worker": "李四", "class": class, "risk": "yellow"})
	}

	step(t, "张奶奶: lives alone; three problems, one referred and resolved", func() {
		register("zhang", "幸福路 8 号 601", "special")
		p.must(200, "POST", "/v1/households/zhang/consent", worker, map[string]any{"given": true, "scope": "走访信息采集"})
		p.must(201, "POST", "/v1/households/zhang/members", worker, map[string]any{"member_id": "m1", "name": "张奶奶", "relation": "本人",
			"birth_date": "1948-03-12", "phone": "13800000001", "health": "高血压"})
		p.must(200, "POST", "/v1/households/zhang/visits", worker, evidence("李四", map[string]any{"visit_id": "v1",
			"occurred_at": ago(2 * time.Hour), "mode": "home", "outcome": "completed", "health": "行动不便，担心摔倒", "summary": "独居，感到孤独，怕摔倒"}))
		var problems []string
		for i, d := range []string{"希望有志愿者定期上门陪伴", "需要安装一键呼叫报警器", "希望子女多视频通话"} {
			res := p.must(201, "POST", "/v1/problems", worker, map[string]any{"problem_id": fmt.Sprint("zhang-p", i), "household_id": "zhang",
				"visit_id": "v1", "description": d, "category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
			if !regexp.MustCompile(`^WT\d{10}$`).MatchString(res["number"].(string)) {
				t.Fatalf("problem number %v", res["number"])
			}
			problems = append(problems, res["id"].(string))
		}
		p.must(201, "POST", "/v1/referrals", worker, map[string]any{"referral_id": "zhang-r1", "problem_id": problems[1],
			"level": "department", "to": "住建局", "request": "为独居老人安装一键呼叫报警器"})
		// The department sees only its referral and acts on it.
		p.must(403, "POST", "/v1/households/zhang/risk", housing, map[string]any{"to": "red", "reason": "x"})
		p.must(200, "POST", "/v1/referrals/zhang-r1/accept", housing, map[string]any{"responsible": "张科长", "time_limit": "5 working_days"})
		p.must(200, "POST", "/v1/referrals/zhang-r1/start", housing, map[string]any{"note": "已派人勘察"})
		p.must(200, "POST", "/v1/referrals/zhang-r1/complete", housing, map[string]any{"outcome": "报警器已安装",
			"resources": []map[string]any{{"kind": "goods", "description": "一键呼叫报警器", "provider": "住建局"}}})
		p.must(200, "POST", "/v1/problems/"+problems[1]+"/resolve", worker, map[string]any{"summary": "报警器已安装并测试"})
		done := p.must(200, "POST", "/v1/problems/"+problems[1]+"/satisfaction", worker, map[string]any{"score": 5, "comment": "很满意"})
		// Read your writes: the profile reflects everything up to the last position.
		prof := p.must(200, "GET", "/v1/households/zhang?purpose=visit_preparation&wait_for="+done["position"].(string), sup, nil)
		if prof["visit_count"].(float64) != 1 || len(prof["problems"].([]any)) != 3 || prof["open_problems"].(float64) != 2 {
			t.Fatalf("profile: %v", prof)
		}
		member := prof["members"].([]any)[0].(map[string]any)
		if member["phone"].(map[string]any)["value"] != "13800000001" {
			t.Fatalf("a supervisor with the grant should read the phone: %v", member)
		}
		// An auditor without the grant sees it masked; an outsider not at all.
		aud := p.must(200, "GET", "/v1/households/zhang", auditor, nil)
		if strings.Contains(fmt.Sprint(aud), "13800000001") {
			t.Fatalf("auditor saw the phone: %v", aud)
		}
		p.must(404, "GET", "/v1/households/zhang", outsider, nil) // outside the scope reads as missing (decision 0088)
		// Audit trail and export.
		trail := p.call("GET", "/v1/problems/"+problems[1]+"/audit?format=csv", auditor, nil)
		if trail.status != 200 || !strings.Contains(string(trail.body), "problem.satisfaction_rated") || !strings.Contains(string(trail.body), "referral.completed") {
			t.Fatalf("problem trail: %d %s", trail.status, trail.body)
		}
		htrail := p.call("GET", "/v1/households/zhang/audit?format=jsonl", auditor, nil)
		if htrail.status != 200 || strings.Contains(string(htrail.body), "13800000001") || strings.Contains(string(htrail.body), "高血压") {
			t.Fatalf("household trail: %d, or it shows sensitive values: %s", htrail.status, htrail.body)
		}
		metrics := p.call("GET", "/metrics", "", nil)
		if !strings.Contains(string(metrics.body), `doorstep_projection_lag_events{projection="household_profile"}`) ||
			!strings.Contains(string(metrics.body), `doorstep_http_requests_total{code="201",method="POST",route="/v1/problems"} 3`) {
			t.Fatalf("metrics:\n%s", metrics.body)
		}
	})

	step(t, "刘女士: refused at first; the refusal is recorded; trust after five visits", func() {
		register("liu", "和平街 3 号", "key")
		p.must(200, "POST", "/v1/households/liu/visits", worker, map[string]any{"team": []string{"李四"}, "occurred_at": ago(50 * time.Hour),
			"mode": "home", "outcome": "refused", "summary": "拒绝开门"})
		for i := range 4 {
			p.must(200, "POST", "/v1/households/liu/visits", worker, evidence("李四", map[string]any{
				"occurred_at": ago(time.Duration(40-8*i) * time.Hour), "mode": "home", "outcome": "completed", "summary": fmt.Sprint("第", i+2, "次走访")}))
		}
		pr := p.must(201, "POST", "/v1/problems", worker, map[string]any{"household_id": "liu", "description": "心理支持三个月",
			"category": "psychological", "handling_class": "long_term", "colour": "yellow", "urgency": "ordinary"})
		id := pr["id"].(string)
		p.must(200, "POST", "/v1/problems/"+id+"/assign", sup, map[string]any{"to": "社工小周", "reason": "专业社工跟进", "sessions": 12})
		p.must(200, "POST", "/v1/problems/"+id+"/progress", worker, map[string]any{"note": "第一次心理疏导", "follow_up": "home_visit"})
		tl := p.must(200, "GET", "/v1/households/liu/audit?wait_for="+pr["position"].(string), auditor, nil)
		entries := tl["entries"].([]any)
		if len(entries) != 9 || !strings.Contains(string(mustJSON(entries)), "拒绝开门") {
			t.Fatalf("trail of 刘女士: %d entries %s", len(entries), mustJSON(entries))
		}
	})

	step(t, "赵大爷: referral chain community → street → housing department", func() {
		register("zhao", "光明楼 6 楼", "special")
		pr := p.must(201, "POST", "/v1/problems", worker, map[string]any{"household_id": "zhao", "description": "6 楼无电梯，残疾无法下楼",
			"category": "living_security", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
		id := pr["id"].(string)
		p.must(201, "POST", "/v1/referrals", worker, map[string]any{"referral_id": "zhao-r", "problem_id": id, "level": "community",
			"to": "幸福社区居委会", "request": "协调加装电梯"})
		p.must(200, "POST", "/v1/referrals/zhao-r/escalate", sup, map[string]any{"level": "street", "to": "街道办", "reason": "社区无法协调资金"})
		before := p.must(200, "POST", "/v1/referrals/zhao-r/escalate", sup, map[string]any{"level": "department", "to": "住建局", "reason": "需住建部门审批"})
		p.must(200, "POST", "/v1/referrals/zhao-r/accept", housing, map[string]any{"responsible": "李工", "time_limit": "3 months"})
		p.must(200, "POST", "/v1/referrals/zhao-r/start", housing, nil)
		p.must(200, "POST", "/v1/referrals/zhao-r/complete", housing, map[string]any{"outcome": "电梯已安装"})
		// As of the second escalation the referral was requested at the housing department.
		asOf := p.must(200, "GET", "/v1/referrals/zhao-r?version="+fmt.Sprint(before["version"]), sup, nil)
		now := p.must(200, "GET", "/v1/referrals/zhao-r", sup, nil)
		if asOf["status"] != "requested" || asOf["to"] != "住建局" || now["status"] != "completed" || now["escalations"].(float64) != 2 {
			t.Fatalf("as of %v, now %v", asOf, now)
		}
	})

	step(t, "a retried command with the same Idempotency-Key writes once and answers the same", func() {
		a := p.call("POST", "/v1/households/zhang/visits", worker, body, "Idempotency-Key", "visit-zhang-0001")
		firstBody = a.body
		b := p.call("POST", "/v1/households/zhang/visits", worker, body, "Idempotency-Key", "visit-zhang-0001")
		if a.status != 200 || b.status != 200 || !bytes.Equal(a.body, b.body) || b.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %d %s / %d %s", a.status, a.body, b.status, b.body)
		}
		prof := p.must(200, "GET", "/v1/households/zhang?wait_for="+a.json(t)["position"].(string), worker, nil)
		if prof["visit_count"].(float64) != 2 {
			t.Fatalf("visits after a retried record: %v", prof["visit_count"])
		}
	})

	step(t, "a concurrent edit with a stale If-Match is refused with 412", func() {
		cur := p.call("GET", "/v1/problems/zhang-p0", worker, nil)
		etag := cur.header.Get("ETag")
		if cur.status != 200 || etag == "" {
			t.Fatalf("problem: %d %v", cur.status, cur.header)
		}
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, who := range []string{worker, sup} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = p.call("POST", "/v1/problems/zhang-p0/progress", who, map[string]any{"note": fmt.Sprint("跟进 ", i), "follow_up": "phone"}, "If-Match", etag).status
			}()
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 412 || codes[0] == 412 && codes[1] == 200) {
			t.Fatalf("two edits from the same version: %v, want one 200 and one 412", codes)
		}
	})

	step(t, "integrators follow the log without sensitive fields", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/v1/events?category=household&community=幸福社区", nil)
		req.Header.Set("Authorization", "Bearer "+integ)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		seenMember := false
		for n := 0; n < 5 && sc.Scan(); {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			n++
			if strings.Contains(line, "13800000001") || strings.Contains(line, "ciphertext") {
				t.Fatalf("sensitive data on the event stream: %s", line)
			}
			if strings.Contains(line, "household.member_added") {
				seenMember = strings.Contains(line, `"phone":{"sealed":true}`)
			}
		}
		if !seenMember {
			t.Fatal("the member_added event with a sealed phone did not come through")
		}
	})

	step(t, "errors are problem+json in English or Chinese", func() {
		r := p.call("POST", "/v1/problems/zhang-p1/satisfaction", worker, map[string]any{"score": 4}, "Accept-Language", "zh-CN,zh;q=0.9")
		if r.status != 409 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("second rating: %d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["code"] != "already_rated" || !strings.Contains(m["detail"].(string), "已评价") || m["message_en"] == "" {
			t.Fatalf("problem: %v", m)
		}
	})

	step(t, "the load generator drives the server", func() {
		out, err := exec.Command(binary(t), "bench", "-url", p.base, "-token", admin, "-duration", "1s", "-warmup", "0s", "-reads", "40", "-writes", "10").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "GET /v1/households/{id}") || !strings.Contains(string(out), "POST /v1/households/{id}/visits") {
			t.Fatalf("bench: %v\n%s", err, out)
		}
	})

	// A clean stop, then a restart: the admin token is not printed again,
	// nothing was lost, and a retried command (same key) is still a no-op.
	p.stop()
	if !strings.Contains(p.errb.String(), "shut down cleanly") {
		t.Fatalf("no clean shutdown in the log:\n%s", p.errb.String())
	}
	if strings.Contains(p.errb.String(), "13800000001") || strings.Contains(p.errb.String(), "高血压") || strings.Contains(p.errb.String(), admin) {
		t.Fatal("the log contains sensitive data or a token")
	}
	q := start(t, dir)
	if q.token != "" {
		t.Fatal("the admin token was printed again on the second start")
	}
	r := q.call("POST", "/v1/households/zhang/visits", worker, body, "Idempotency-Key", "visit-zhang-0001")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.body, firstBody) {
		t.Fatalf("retry after restart: %d %s %v, first answer %s", r.status, r.body, r.header, firstBody)
	}
	q.stop()
	out, err := exec.Command(binary(t), "verify", "-data", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "every hash chain intact") {
		t.Fatalf("verify: %v %s", err, out)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// step runs one part of a story, logging its name.
func step(t *testing.T, name string, f func()) {
	t.Helper()
	t.Log("—", name)
	f()
}

// sharedSchema returns the machine's shared PostgreSQL (failing the test,
// with how to start it, when it is down), a connection to it and a fresh
// schema name, dropped after the test and its processes are done.
func sharedSchema(t *testing.T, prefix string) (url string, conn *pgx.Conn, schema string) {
	t.Helper()
	conn = pgtest.Connect(t)
	schema = fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return pgtest.SharedURL(), conn, schema
}

// TestEndToEndOnPostgres runs serve on the machine's PostgreSQL (its own
// schema), records a visit, restarts, and finds it again.
func TestEndToEndOnPostgres(t *testing.T) {
	pg, conn, schema := sharedSchema(t, "e2e")
	ctx := context.Background()
	dir := t.TempDir()
	p := start(t, dir, "-store", pg, "-store-schema", schema)
	admin := p.token
	p.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": "chen", "address": "长青路 2 号", "community": "长青社区",
		"grid": "长青网格", "responsible_worker": "李四", "class": "special", "risk": "yellow"})
	v := p.must(200, "POST", "/v1/households/chen/visits", admin, evidence("admin", map[string]any{"occurred_at": ago(time.Hour),
		"mode": "home", "outcome": "completed", "summary": "安装烟雾报警器，邻居每日敲门"}))
	prof := p.must(200, "GET", "/v1/households/chen?wait_for="+v["position"].(string), admin, nil)
	if prof["visit_count"].(float64) != 1 {
		t.Fatalf("profile: %v", prof)
	}
	p.stop()
	if !strings.Contains(p.errb.String(), "schema "+schema) {
		t.Fatalf("the log does not name the PostgreSQL store:\n%s", p.errb.String())
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".events").Scan(&n); err != nil || n != 2 {
		var types []string
		rows, _ := conn.Query(ctx, "SELECT type FROM "+schema+".events ORDER BY 1")
		for rows != nil && rows.Next() {
			var ty string
			_ = rows.Scan(&ty)
			types = append(types, ty)
		}
		t.Fatalf("events in PostgreSQL: %d %v, %v", n, types, err)
	}
	q := start(t, dir, "-store", pg, "-store-schema", schema)
	again := q.must(200, "GET", "/v1/households/chen", admin, nil)
	if again["visit_count"].(float64) != 1 || again["version"].(float64) != 2 {
		t.Fatalf("after restart: %v", again)
	}
	// The offline tools work on PostgreSQL too, beside a running node (with
	// a data directory of their own: nothing of the store is in it).
	tools := t.TempDir()
	for _, args := range [][]string{
		{"verify"},
		{"replay", "-household", "chen"},
		{"export", "-household", "chen", "-format", "csv"},
		{"rebuild"},
	} {
		var out, errb bytes.Buffer
		all := append(args, "-data", tools, "-store", pg, "-store-schema", schema)
		if err := run(ctx, all, &out, &errb); err != nil {
			t.Fatalf("doorstep %s: %v\n%s", strings.Join(all, " "), err, errb.String())
		}
		want := map[string]string{"verify": "2 events", "replay": "邻居每日敲门", "export": "visit.recorded", "rebuild": "from 2 events"}[args[0]]
		if !strings.Contains(out.String(), want) {
			t.Fatalf("doorstep %s printed no %q:\n%s", args[0], want, out.String())
		}
	}
	// Pointed at a schema that holds no store, they say so and create nothing.
	for _, tool := range []string{"verify", "rebuild"} {
		var out, errb bytes.Buffer
		err := run(ctx, []string{tool, "-data", tools, "-store", pg, "-store-schema", schema + "_typo"}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "no Doorstep store") {
			t.Fatalf("doorstep %s on an empty schema: %v", tool, err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema+"_typo").Scan(&n); err != nil || n != 0 {
			t.Fatalf("doorstep %s created schema %s_typo (%d, %v)", tool, schema, n, err)
		}
	}
	// After the rebuild the running node still answers, from the rebuilt
	// read models.
	if again := q.must(200, "GET", "/v1/households/chen", admin, nil); again["visit_count"].(float64) != 1 {
		t.Fatalf("after rebuild: %v", again)
	}
	q.stop()
}
