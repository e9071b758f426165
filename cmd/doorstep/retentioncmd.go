package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// runRetention is `doorstep retention -preview [-until INSTANT]`: which
// closed files the retention task erases, and when (decision 0113), from a
// running server's API (GET /v1/retention/preview) with the caller's token
// (a privacy officer's, an administrator's or an auditor's). The server
// erases them itself when they are due; nothing here writes.
func runRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("DOORSTEP_URL", "http://127.0.0.1:8080"), "server (env DOORSTEP_URL) / 服务地址")
	token := fs.String("token", envOr("DOORSTEP_TOKEN", ""), "a privacy officer's, an administrator's or an auditor's token (env DOORSTEP_TOKEN) / 令牌")
	preview := fs.Bool("preview", false, "list the closed files whose retention has ended (or ends by -until) / 预览保存期满的档案")
	until := fs.String("until", "", "with -preview: an RFC 3339 instant; default now / 截至时刻")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if !*preview {
		return usageError{"doorstep retention: give -preview (the server erases due files itself) / 请使用 -preview（到期档案由服务器自动删除）"}
	}
	if *token == "" {
		return usageError{"doorstep retention: give -token (or DOORSTEP_TOKEN) / 请提供令牌"}
	}
	u := strings.TrimRight(*base, "/") + "/v1/retention/preview"
	if *until != "" {
		u += "?until=" + url.QueryEscape(*until)
	}
	status, out, err := eraseCall(ctx, "GET", u, *token, "", nil)
	if err != nil {
		return err
	}
	if status >= 300 {
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(out, &p)
		return fmt.Errorf("doorstep retention -preview: %d %s: %s", status, p.Code, p.Detail)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out)
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}
