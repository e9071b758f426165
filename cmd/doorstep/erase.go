package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// runErase is `doorstep erase`: the erasure of a household's or a member's
// personal data (PIPL, decision 0100), through a running server's API so
// that the same roles, scopes and second approver apply as for any other
// client:
//
//	doorstep erase request -household ID [-member ID] -basis BASIS -reference REF [-id REQUEST]
//	doorstep erase approve -household ID -id REQUEST   (a privacy officer's token, not the requester's)
//	doorstep erase list    -household ID
func runErase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usageMsg = "doorstep erase: give a subcommand: request, approve or list / 请给出子命令：“request”（申请）、“approve”（批准）或“list”（查看）"
	if len(args) == 0 || (args[0] != "request" && args[0] != "approve" && args[0] != "list") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, usageMsg)
			return nil
		}
		return usageError{usageMsg}
	}
	sub := args[0]
	fs := flag.NewFlagSet("erase "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("DOORSTEP_URL", "http://127.0.0.1:8080"), "server (env DOORSTEP_URL) / 服务地址")
	token := fs.String("token", envOr("DOORSTEP_TOKEN", ""), "your token: a supervisor's, an administrator's or a privacy officer's to request; a privacy officer's to approve (env DOORSTEP_TOKEN) / 令牌")
	household := fs.String("household", "", "the household's id / 家庭编号")
	member := fs.String("member", "", "request: erase only this member / 仅删除该成员")
	basis := fs.String("basis", "", "request: the legal basis (PIPL art. 47): purpose_achieved, service_ended, retention_expired, consent_withdrawn, unlawful_processing / 法律依据")
	ref := fs.String("reference", "", "request: the request's number in your register of requests (never a name) / 申请文号")
	id := fs.String("id", "", "the erasure request's id (request: optional; approve: required) / 删除申请编号")
	key := fs.String("idempotency-key", "", "makes a retry safe: the same key answers the same / 幂等键")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if helpAsked(args[1:]) {
		return nil
	}
	if *token == "" {
		return usageError{"doorstep erase: give -token (or DOORSTEP_TOKEN) / 请提供令牌"}
	}
	if *household == "" {
		return usageError{"doorstep erase: give -household ID / 请用 -household 给出家庭编号"}
	}
	path := "/v1/households/" + url.PathEscape(*household) + "/erasure"
	method, body := "GET", any(nil)
	switch sub {
	case "request":
		scope := "household"
		if *member != "" {
			scope = "member"
		}
		method, body = "POST", map[string]string{"request_id": *id, "scope": scope, "member_id": *member, "legal_basis": *basis, "reference": *ref}
	case "approve":
		if *id == "" {
			return usageError{"doorstep erase approve: give -id, the request's id (see doorstep erase list) / 请用 -id 给出删除申请编号（见 “doorstep erase list”）"}
		}
		method, path = "POST", path+"/"+url.PathEscape(*id)+"/approve"
	}
	status, out, err := eraseCall(ctx, method, strings.TrimRight(*base, "/")+path, *token, *key, body)
	if err != nil {
		return err
	}
	if status >= 300 {
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(out, &p)
		return fmt.Errorf("doorstep erase %s: %d %s: %s", sub, status, p.Code, p.Detail)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out)
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}

// eraseCall sends one request and returns the status and body (at most
// 1 MiB).
func eraseCall(ctx context.Context, method, u, token, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("doorstep erase: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Language", "en, zh-CN;q=0.9")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("doorstep erase: %s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}
