package http

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// TestOpenTokensInJSON: sealed tokens are opened wherever they are in an
// answer's JSON — a whole string, quoted in a longer one, with an id that
// JSON escapes — and the result is still the same JSON with the text in
// place; after the erasure they show "[erased]" (decision 0108).
func TestOpenTokensInJSON(t *testing.T) {
	ctx := context.Background()
	ks, err := keystore.OpenFileStore(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	v := keystore.New(ks, keystore.Config{})
	const hh = `x";filename="evil<exe>\`
	text := "他说\"没事\"，<b>&</b>\n第二行"
	tok, err := domain.SealText(ctx, v, hh, text, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"summary": tok, "said": "办结：" + tok + " / done", "n": 1, "list": []string{tok, "clear"}}
	b, _ := json.Marshal(in)
	var out map[string]any
	if err := json.Unmarshal(openTokens(ctx, v, b), &out); err != nil {
		t.Fatalf("not JSON after opening: %v\n%s", err, openTokens(ctx, v, b))
	}
	if out["summary"] != text || out["said"] != "办结："+text+" / done" || out["list"].([]any)[0] != text || out["list"].([]any)[1] != "clear" || out["n"] != 1.0 {
		t.Fatalf("opened: %v", out)
	}
	if err := v.Erase(ctx, hh); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openTokens(ctx, v, b), &out); err != nil || out["summary"] != "[erased]" || out["said"] != "办结：[erased] / done" {
		t.Fatalf("after erasure: %v %v", out, err)
	}
}
