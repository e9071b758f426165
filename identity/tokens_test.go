package identity

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokensStoredHashed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, TokensFile)
	toks, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, created, err := toks.EnsureAdmin(ctx)
	if err != nil || !created || !strings.HasPrefix(admin, "ds_") {
		t.Fatalf("EnsureAdmin: %q %v %v", admin, created, err)
	}
	if again, created, _ := toks.EnsureAdmin(ctx); created || again != "" {
		t.Fatalf("second EnsureAdmin created another token")
	}
	w, err := toks.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toks.Create(ctx, Principal{Name: "x", Role: RoleWorker}, "admin"); err == nil {
		t.Fatal("a worker token without grids was accepted")
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), admin) || strings.Contains(string(raw), w) {
		t.Fatal("the tokens file contains a token in clear")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v", fi.Mode().Perm())
	}
	reopened, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := authenticate(reopened, w); !ok || p.Name != "李四" || p.Role != RoleWorker {
		t.Fatalf("reopened tokens: %+v %v", p, ok)
	}
	if _, ok := authenticate(reopened, w+"x"); ok {
		t.Fatal("a wrong token authenticated")
	}
	if _, err := reopened.Create(ctx, Principal{Name: "王书记", Role: RoleSupervisor, Communities: []string{"C1", "C2"}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if got := reopened.Supervisor(ctx, "C2"); got != "王书记" {
		t.Errorf("supervisor of C2 = %q", got)
	}
	if got := reopened.Supervisor(ctx, "C3"); got != "" {
		t.Errorf("supervisor of C3 = %q, want none", got)
	}
}
