package http

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/internal/testenv"
)

// TestReadModelsRecoverAfterDiskFull is issue 13's item 4 over HTTP: while
// the read-model database is full, /readyz is 503 and says why, a query
// with wait_for answers 503 read_model_stalled, and one without it is
// marked stale (StalledHeader); once space is freed the read models catch
// up without a restart: /readyz is 200 and wait_for is met.
func TestReadModelsRecoverAfterDiskFull(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/v1/households", e.admin, registerBody("h1", "C1", "G1"))
	if r.status != 201 {
		t.Fatalf("register h1: %d %s", r.status, r.body)
	}
	var res CommandResult
	r.decode(t, &res)
	if r := e.do("GET", "/v1/households/h1?wait_for="+res.Position+"&wait_timeout=20s", e.admin, nil); r.status != 200 || r.header.Get(StalledHeader) != "" {
		t.Fatalf("before the disk fills: %d %v %s", r.status, r.header, r.body)
	}

	testenv.FillSQLite(t, e.rdb, true)
	var last CommandResult
	for i := range 200 {
		r := e.do("POST", "/v1/households", e.admin, registerBody("full-"+strconv.Itoa(i), "C1", "G1"))
		if r.status != 201 {
			t.Fatalf("commands do not depend on the read models, yet: %d %s", r.status, r.body)
		}
		r.decode(t, &last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// /readyz reports the stall once the engine has failed to commit.
	for ctx.Err() == nil {
		r := e.do("GET", "/readyz", e.admin, nil)
		if r.status == 503 {
			if p := r.problem(t); !strings.Contains(p.Detail, "full") {
				t.Fatalf("/readyz while stalled: %s", r.body)
			}
			break
		}
		if r.status != 200 {
			t.Fatalf("/readyz: %d %s", r.status, r.body)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("/readyz never reported the stall")
	}
	r = e.do("GET", "/v1/households?wait_for="+last.Position+"&wait_timeout=100ms", e.admin, nil)
	if p := r.problem(t); r.status != 503 || p.Code != "read_model_stalled" {
		t.Fatalf("wait_for while stalled: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/households/h1", e.admin, nil)
	if r.status != 200 || r.header.Get(StalledHeader) == "" {
		t.Fatalf("a query while stalled is not marked stale: %d %v", r.status, r.header)
	}
	r = e.do("GET", "/v1/households?wait_for="+last.Position+"&wait_timeout=100ms", e.admin, nil, "Accept-Language", "zh-CN")
	if p := r.problem(t); r.status != 503 || !strings.Contains(p.Detail, "停止更新") {
		t.Fatalf("wait_for while stalled, in Chinese: %d %s", r.status, r.body)
	}

	testenv.FillSQLite(t, e.rdb, false)
	r = e.do("GET", "/v1/households?wait_for="+last.Position+"&wait_timeout=20s&limit=500", e.admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"full-199"`) {
		t.Fatalf("wait_for after space was freed: %d %s", r.status, r.body)
	}
	for ctx.Err() == nil {
		r := e.do("GET", "/readyz", e.admin, nil)
		if r.status == 200 {
			break
		}
		if r.status != 503 {
			t.Fatalf("/readyz: %d %s", r.status, r.body)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("/readyz never recovered")
	}
	if r := e.do("GET", "/v1/households/h1", e.admin, nil); r.status != 200 || r.header.Get(StalledHeader) != "" {
		t.Fatalf("after recovery the answer is still marked stale: %d %v", r.status, r.header)
	}
}
