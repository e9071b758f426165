package identity

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkFileAuthenticate is the cost of authenticating a token against
// the tokens file (the embedded store's every request).
func BenchmarkFileAuthenticate(b *testing.B) {
	toks, err := OpenTokens(filepath.Join(b.TempDir(), TokensFile))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tok, err := toks.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := toks.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
