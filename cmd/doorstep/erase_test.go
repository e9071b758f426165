package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestEraseCommand runs `doorstep erase` against a real `doorstep serve`:
// a supervisor requests, may not approve, a privacy officer approves; the
// profile and the exported audit trail then show the fields as erased, and
// `doorstep verify` passes on the log afterwards.
func TestEraseCommand(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	admin := p.token
	worker := p.newToken(admin, map[string]any{"name": "李四", "role": "worker", "grids": []string{"幸福网格"}})
	sup := p.newToken(admin, map[string]any{"name": "王书记", "role": "supervisor", "communities": []string{"幸福社区"}})
	officer := p.newToken(admin, map[string]any{"name": "周主任", "role": "privacy_officer"})
	p.must(201, "POST", "/v1/households", worker, map[string]any{"household_id": "qian", "address": "幸福路 9 号", "community": "幸福社区",
		"grid": "幸福网格", "responsible_worker": "李四", "class": "key", "risk": "yellow"})
	p.must(200, "POST", "/v1/households/qian/consent", worker, map[string]any{"given": true})
	p.must(201, "POST", "/v1/households/qian/members", worker, map[string]any{"member_id": "m1", "name": "钱大爷", "relation": "本人",
		"phone": "13811112222", "id_number": "110101194501010011"})
	p.must(200, "POST", "/v1/households/qian/visits", worker, evidence("李四", map[string]any{"visit_id": "v1",
		"occurred_at": ago(time.Hour), "mode": "home", "outcome": "completed", "economic": "仅靠养老金"}))

	erase := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"erase", args[0], "-url", p.base}, args[1:]...), &out, &errb)
		return out.String() + errb.String(), err
	}
	if _, err := erase("request", "-token", sup, "-household", "qian", "-basis", "consent_withdrawn", "-reference", "PIPL-2026-0042", "-id", "er1"); err != nil {
		t.Fatal(err)
	}
	if _, err := erase("approve", "-token", sup, "-household", "qian", "-id", "er1"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a supervisor approved: %v", err)
	}
	approved, err := erase("approve", "-token", officer, "-household", "qian", "-id", "er1")
	if err != nil {
		t.Fatalf("approve: %v %s", err, approved)
	}
	var res struct {
		Position string `json:"position"`
	}
	if err := json.Unmarshal([]byte(approved), &res); err != nil || res.Position == "" {
		t.Fatalf("approve printed no position: %v %s", err, approved)
	}
	out, err := erase("list", "-token", officer, "-household", "qian")
	if err != nil || !strings.Contains(out, `"completed": true`) || !strings.Contains(out, `"erased": true`) || !strings.Contains(out, "PIPL-2026-0042") {
		t.Fatalf("list: %v %s", err, out)
	}
	if _, err := erase("request", "-token", sup, "-household", "qian"); err == nil {
		t.Fatal("a request without a basis was accepted")
	}
	// Read the profile once the read models hold the completion.
	prof := p.must(200, "GET", "/v1/households/qian?wait_for="+res.Position, worker, nil)
	mem := prof["members"].([]any)[0].(map[string]any)
	if ph := mem["phone"].(map[string]any); ph["erased"] != true || ph["value"] != nil {
		t.Fatalf("phone after erasure: %v", ph)
	}
	p.stop()
	// The exported trail shows the destroyed values as erased.
	var eout, eerr bytes.Buffer
	if err := run(context.Background(), []string{"export", "-data", dir, "-household", "qian", "-format", "csv"}, &eout, &eerr); err != nil {
		t.Fatalf("export: %v %s", err, eerr.String())
	}
	if !strings.Contains(eout.String(), "member.m1.phone") || !strings.Contains(eout.String(), "[erased]") || strings.Contains(eout.String(), "[sealed]") {
		t.Fatalf("exported trail after erasure:\n%s", eout.String())
	}
	var vout, verr bytes.Buffer
	if err := run(context.Background(), []string{"verify", "-data", dir}, &vout, &verr); err != nil {
		t.Fatalf("verify after erasure: %v\n%s%s", err, vout.String(), verr.String())
	}
}
