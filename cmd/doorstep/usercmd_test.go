package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/account"
	"github.com/doorstep/doorstep/identity"
)

// doorstep user add / list / disable / enable on a data directory, beside a
// server's token set: disabling a user ends the session they signed in to.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	toks, err := identity.OpenTokens(filepath.Join(dir, identity.TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"user"}, append(args, "-data", dir)...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("li si's long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd("add", "lisi", "-name", "李四", "-role", "worker", "-grids", "G1,G2", "-password-file", pwFile); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, err := cmd("add", "wang", "-name", "王书记", "-role", "supervisor", "-password-file", pwFile); err == nil || !strings.Contains(err.Error(), "communities") {
		t.Fatalf("a supervisor without communities: %v", err)
	}
	users, err := account.OpenFile(ctx, filepath.Join(dir, account.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	p, err := users.Authenticate(ctx, "lisi", "li si's long password")
	if err != nil || p.Name != "李四" || len(p.Grids) != 2 || !p.Sensitive {
		t.Fatalf("sign in: %+v %v", p, err)
	}
	// A session as the server makes one.
	session, err := toks.CreateExpiring(ctx, p, "sign-in:lisi", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd("list")
	if err != nil || !strings.Contains(out, "lisi") || !strings.Contains(out, "G1,G2") || strings.Contains(out, "argon2") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := cmd("disable", "lisi"); err != nil {
		t.Fatalf("disable: %v %s", err, out)
	}
	if _, err := toks.Authenticate(ctx, session); err == nil {
		t.Fatal("the session outlived the disabled user")
	}
	if _, err := users.Authenticate(ctx, "lisi", "li si's long password"); err == nil {
		t.Fatal("a disabled user signed in")
	}
	if _, err := cmd("enable", "lisi"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate(ctx, "lisi", "li si's long password"); err != nil {
		t.Fatal(err)
	}
}
