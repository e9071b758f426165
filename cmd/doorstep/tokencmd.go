package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/doorstep/doorstep/identity"
)

// runToken manages the access tokens on the store itself (the tokens file
// in -data, or the tokens table on PostgreSQL), so that an operator can
// revoke a token even when no admin token is at hand. A running server
// notices: the file is re-read when it changes (looked at every
// identity.FileCheckInterval), and on PostgreSQL every node is notified.
//
//	doorstep token list
//	doorstep token revoke ID
//	doorstep token expire ID -at INSTANT|never
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usageMsg = "doorstep token: give a subcommand: list, revoke ID, or expire ID -at INSTANT|never / 请给出子命令：“list”、“revoke 编号”或“expire 编号 -at 时间|never”"
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke" && args[0] != "expire") {
		return usageError{usageMsg}
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	by := fs.String("by", envOr("USER", "operator"), "who revokes, recorded with the token / 操作人（随令牌记录）")
	at := fs.String("at", "", "expire: when the token stops working, RFC 3339 (e.g. 2026-12-31T23:59:59+08:00), or never / 过期时间（RFC 3339）或 “never”（永不过期）")
	// The id may come before or after the flags.
	id, help, err := parseOperand(fs, args[1:], "token "+sub)
	if err != nil || help {
		return err
	}
	if sub != "list" && id == "" {
		return usageError{fmt.Sprintf("doorstep token %s: give the token's id (see doorstep token list) / 请给出令牌编号（见 “doorstep token list”）", sub)}
	}
	var expiry time.Time
	if sub == "expire" {
		switch *at {
		case "":
			return usageError{"doorstep token expire: give -at INSTANT (RFC 3339, e.g. 2026-12-31T23:59:59+08:00) or -at never / 请用 -at 给出过期时间或 “never”"}
		case "never":
		default:
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return usageError{fmt.Sprintf("doorstep token expire: -at %q is not an RFC 3339 instant; write e.g. 2026-12-31T23:59:59+08:00, or never / -at 不是 RFC 3339 时间", *at)}
			}
			expiry = t
		}
	}
	pool := &toolPool{}
	defer pool.Close()
	toks, err := openTokens(ctx, *data, *st, pool)
	if err != nil {
		return err
	}
	defer toks.Close()
	switch sub {
	case "revoke":
		if err := toks.Revoke(ctx, id, *by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked / 已吊销: %s\n", id)
	case "expire":
		if err := toks.SetExpiry(ctx, id, expiry); err != nil {
			return err
		}
		if expiry.IsZero() {
			fmt.Fprintf(stdout, "%s never expires / 永不过期\n", id)
		} else {
			fmt.Fprintf(stdout, "%s expires at / 过期时间 %s\n", id, expiry.Format(time.RFC3339))
		}
	default:
		list, err := toks.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tROLE\tNAME\tCREATED\tEXPIRES\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, t.Principal.Role, t.Principal.Name,
				t.CreatedAt.Format(time.RFC3339), timeOrDash(t.ExpiresAt), timeOrDash(t.RevokedAt))
		}
		return tw.Flush()
	}
	return nil
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// openTokens opens the token set of the store st names: the table on
// PostgreSQL (on the command's one pool), or the tokens file in dir, which
// must exist.
func openTokens(ctx context.Context, dir string, st storeConfig, pool *toolPool) (*identity.Tokens, error) {
	if st.URL != "" {
		p, err := pool.get(ctx, st.URL, st.Schema)
		if err != nil {
			return nil, err
		}
		return identity.NewPostgresTokens(ctx, p, st.Schema)
	}
	path := filepath.Join(dir, identity.TokensFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no tokens file at %s (%v): give -data the data directory of the server / 数据目录中没有令牌文件", path, err)
	}
	return identity.OpenTokens(path)
}
