package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/doorstep/doorstep/account"
	dhttp "github.com/doorstep/doorstep/http"
	"github.com/doorstep/doorstep/identity"
)

// userStdin is where `doorstep user add` reads the password when no
// -password-file is given (a variable for tests).
var userStdin io.Reader = os.Stdin

// runUser manages the console's users on the store itself (users.db in
// -data, or the users table on PostgreSQL), as `doorstep token` does the
// tokens:
//
//	doorstep user add LOGIN -name NAME -role ROLE [-grids G,…] [-communities C,…] [-department D] [-sensitive=BOOL] [-expires INSTANT] [-password-file FILE]
//	doorstep user list
//	doorstep user disable LOGIN   (also ends the user's sessions)
//	doorstep user enable LOGIN    (also lifts a lock-out)
//
// The password is read from the first line of -password-file, or of the
// standard input: never from the command line, which other users of the
// machine can read.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usageMsg = "doorstep user: give a subcommand: add LOGIN, list, disable LOGIN or enable LOGIN / 请给出子命令：“add 登录名”、“list”、“disable 登录名”或“enable 登录名”"
	if len(args) == 0 || (args[0] != "add" && args[0] != "list" && args[0] != "disable" && args[0] != "enable") {
		return usageError{usageMsg}
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	by := fs.String("by", envOr("USER", "operator"), "who makes the change, recorded / 操作人")
	name := fs.String("name", "", "add: the person's name, as events record it (e.g. Li Si) / 姓名（事件中记录的操作人）")
	role := fs.String("role", "", "add: worker, supervisor, auditor, department, integrator or admin / 角色")
	grids := fs.String("grids", "", "add: a worker's grids, comma-separated / 网格员的网格（逗号分隔）")
	communities := fs.String("communities", "", "add: a supervisor's communities, comma-separated / 督导的社区（逗号分隔）")
	department := fs.String("department", "", "add: a department user's department, as referrals name it / 部门名称")
	sensitive := fs.String("sensitive", "", "add: true or false: may read sensitive fields (default: true for workers and supervisors) / 可否读取敏感信息")
	expires := fs.String("expires", "", "add: when the account stops signing in, RFC 3339; empty: never / 账户到期时间")
	pwFile := fs.String("password-file", "", "add: a file whose first line is the password; default: the standard input / 密码文件（首行）；默认读取标准输入")
	login, help, err := parseOperand(fs, args[1:], "user "+sub)
	if err != nil || help {
		return err
	}
	if sub != "list" && login == "" {
		return usageError{fmt.Sprintf("doorstep user %s: give the login / 请给出登录名", sub)}
	}
	pool := &toolPool{}
	defer pool.Close()
	users, err := openUsers(ctx, *data, *st, pool)
	if err != nil {
		return err
	}
	defer users.Close()
	switch sub {
	case "add":
		p := identity.Principal{Name: *name, Role: identity.Role(*role), Grids: splitList(*grids), Communities: splitList(*communities),
			Department: *department, Sensitive: *role == string(identity.RoleWorker) || *role == string(identity.RoleSupervisor)}
		switch *sensitive {
		case "":
		case "true", "false":
			p.Sensitive = *sensitive == "true"
		default:
			return usageError{"doorstep user add: -sensitive is true or false / -sensitive 须为 “true” 或 “false”"}
		}
		var exp time.Time
		if *expires != "" {
			if exp, err = time.Parse(time.RFC3339, *expires); err != nil {
				return usageError{fmt.Sprintf("doorstep user add: -expires %q is not an RFC 3339 instant / -expires 不是 RFC 3339 时间", *expires)}
			}
		}
		pw, err := readPassword(*pwFile)
		if err != nil {
			return err
		}
		if err := users.Add(ctx, login, p, pw, *by, exp); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user added / 已添加用户: %s (%s, %s)\n", login, p.Name, p.Role)
	case "disable":
		if err := users.Disable(ctx, login, *by); err != nil {
			return err
		}
		toks, err := openTokens(ctx, *data, *st, pool)
		if err == nil {
			err = dhttp.EndSessions(ctx, toks, login, *by)
			toks.Close()
		}
		if err != nil {
			return fmt.Errorf("the user is disabled, but their sessions could not be ended: %w / 用户已停用，但其会话未能结束", err)
		}
		fmt.Fprintf(stdout, "disabled, sessions ended / 已停用并结束会话: %s\n", login)
	case "enable":
		if err := users.Enable(ctx, login); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "enabled / 已启用: %s\n", login)
	default:
		list, err := users.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LOGIN\tSTATE\tROLE\tNAME\tSCOPE\tFAILURES\tLAST SIGN-IN")
		for _, u := range list {
			scope := strings.Join(append(append(u.Principal.Grids, u.Principal.Communities...), u.Principal.Department), ",")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", u.Login, u.State, u.Principal.Role, u.Principal.Name, strings.Trim(scope, ","),
				u.Failures, timeOrDash(u.LastSignIn))
		}
		return tw.Flush()
	}
	return nil
}

// readPassword reads the first line of file, or of the standard input.
func readPassword(file string) (string, error) {
	r := userStdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, account.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// openUsers opens the users of the store st names: the table on
// PostgreSQL (the store's, or the read models' with an esdb:// store; on
// the command's one pool), or users.db in dir, which must exist.
func openUsers(ctx context.Context, dir string, st storeConfig, pool *toolPool) (*account.Users, error) {
	url := ""
	switch {
	case isPostgresURL(st.URL):
		url = st.URL
	case isESDBURL(st.URL) && isPostgresURL(st.ReadModels):
		url = st.ReadModels
	}
	if url != "" {
		p, err := pool.get(ctx, url, st.Schema)
		if err != nil {
			return nil, err
		}
		return account.NewPostgres(ctx, p, st.Schema)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no data directory at %s (%v): give -data the data directory of the server / 数据目录不存在", dir, err)
	}
	return account.OpenFile(ctx, filepath.Join(dir, account.FileName))
}
