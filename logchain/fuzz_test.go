package logchain_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/logchain"
)

// FuzzReadHeads: a heads file (signed-heads.jsonl, or one an auditor gives
// verify with -heads) never panics the reader or Head.Check; a head that
// passes Check with a key and round-trips through the file verifies again.
func FuzzReadHeads(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	h := logchain.Sign(seed, logchain.Chain{Count: 3, Hash: [32]byte{1}}, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	good, _ := json.Marshal(h)
	f.Add(append(good, '\n'))
	f.Add(append(append(good, '\n'), good...)) // a torn last line
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"format":"doorstep-signed-head-v1","count":1,"position":"7.12","chain":"zz","signature":"AA=="}` + "\n"))
	f.Add([]byte(strings.Repeat("x", 5000) + "\n"))
	pub := seed.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "heads.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		heads, err := logchain.ReadFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), "/") { // "English / 中文"
				t.Fatalf("error %q is not in both languages", err)
			}
			return
		}
		for _, h := range heads {
			if h.Check(nil) != nil || h.Check(pub) != nil {
				continue
			}
			out := filepath.Join(t.TempDir(), "again.jsonl")
			if err := logchain.AppendFile(out, h); err != nil {
				t.Fatal(err)
			}
			back, err := logchain.ReadFile(out)
			if err != nil || len(back) != 1 || back[0].Check(pub) != nil || back[0] != h {
				t.Fatalf("a good head %+v did not survive the heads file: %+v, %v", h, back, err)
			}
		}
	})
}
