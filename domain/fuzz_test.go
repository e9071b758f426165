package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/doorstep/doorstep/domain"
)

// hasHan reports whether s holds a Chinese character: a message "in
// Chinese" that has none is an English message copied over.
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// FuzzCheckID: the one id rule never panics; a refusal is an ErrInvalid
// *domain.Error with code invalid_id in English and Chinese, quoting a
// bounded part of the id; an accepted id obeys every part of the rule and
// survives a JSON round trip unchanged.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"demo-zhang", "张奶奶", "a", ".", "..", "a/b", "a b", "a\tb", "\x00", "\u202eevil", "\xff",
		"ＡＢＣ", "а", strings.Repeat("x", 128), strings.Repeat("x", 129), strings.Repeat("界", 43), "household-0192"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := domain.CheckID("household_id", id)
		if domain.ValidID(id) != (err == nil) {
			t.Fatalf("ValidID and CheckID disagree on %q: %v", id, err)
		}
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || !errors.Is(err, domain.ErrInvalid) || de.Code != "invalid_id" || de.Field != "household_id" {
				t.Fatalf("CheckID(%q) = %#v, want an ErrInvalid *domain.Error invalid_id", id, err)
			}
			if de.Message == "" || !hasHan(de.MessageZH) {
				t.Fatalf("CheckID(%q): messages %q / %q, want English and Chinese", id, de.Message, de.MessageZH)
			}
			if limit := 4*domain.MaxEchoBytes + 2000; len(de.Message) > limit || len(de.MessageZH) > limit {
				t.Fatalf("CheckID of a %d-byte id gave a %d-byte message", len(id), len(de.Message))
			}
			return
		}
		if id == "" || len(id) > domain.MaxIDBytes || !utf8.ValidString(id) || strings.Contains(id, "/") || id == "." || id == ".." {
			t.Fatalf("CheckID accepted %q", id)
		}
		for _, r := range id {
			if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !unicode.IsGraphic(r) {
				t.Fatalf("CheckID accepted %q with %U", id, r)
			}
		}
		b, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != id {
			t.Fatalf("id %q does not survive JSON: %q, %v", id, back, err)
		}
	})
}
