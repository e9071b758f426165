package domain_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// TestSealedText: a token opens to its text (whole, or quoted in a longer
// text), clear text reads as it is, a token's search tag matches its text
// under its subject's key only, and after the erasure the token shows
// "[erased]" and the tag matches nothing (decision 0108).
func TestSealedText(t *testing.T) {
	ctx := context.Background()
	ks, err := keystore.OpenFileStore(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	v := keystore.New(ks, keystore.Config{})
	const hh = `h"1\x` // ids may hold a quote or a backslash
	name := "王秀英"
	tag, err := domain.SearchTag(ctx, v, domain.MemberSubject(hh, "m1"), domain.NormalizeSearch(" 王 秀英 "))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := domain.SealText(ctx, v, domain.MemberSubject(hh, "m1"), name, []string{tag})
	if err != nil || !domain.IsSealedText(tok) || strings.Contains(tok, name) {
		t.Fatalf("seal: %q %v", tok, err)
	}
	if err := domain.CheckName("name", tok); err == nil {
		t.Fatal("a token passes as a name a person could type")
	}
	if empty, err := domain.SealText(ctx, v, hh, "", nil); empty != "" || err != nil {
		t.Fatalf("empty text: %q %v", empty, err)
	}
	p, ok, err := domain.ParseSealedText(tok)
	if !ok || err != nil || p.Subject != domain.MemberSubject(hh, "m1") || len(p.Tags) != 1 || p.Tags[0] != tag {
		t.Fatalf("parse: %+v %v %v", p, ok, err)
	}
	if r, err := domain.OpenText(ctx, v, tok); err != nil || r.Value != name {
		t.Fatalf("open: %+v %v", r, err)
	}
	if r, err := domain.OpenText(ctx, v, "旧的明文"); err != nil || r.Value != "旧的明文" || !r.Given {
		t.Fatalf("clear text: %+v %v", r, err)
	}
	quoted := "completed: " + tok + " / 办结：" + tok + "."
	if got := domain.OpenTextIn(ctx, v, quoted); got != "completed: 王秀英 / 办结：王秀英." {
		t.Fatalf("quoted: %q", got)
	}
	if got := domain.OpenTextIn(ctx, nil, quoted); got != "completed: [sealed] / 办结：[sealed]." {
		t.Fatalf("no opener: %q", got)
	}
	if _, _, err := domain.ParseSealedText(tok[:len(tok)-40] + " x"); err == nil {
		t.Fatal("a malformed token parsed")
	}
	match := func(subject, q string) bool {
		t.Helper()
		ok, err := domain.MatchSearchTag(ctx, v, subject, tag, domain.NormalizeSearch(q))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !match(domain.MemberSubject(hh, "m1"), "王秀英") || match(domain.MemberSubject(hh, "m1"), "王秀") || match(hh, "王秀英") {
		t.Fatal("search tag before erasure")
	}
	// The household's erasure destroys its key and its members' (as
	// command.ApproveErasure does).
	for _, sub := range []string{domain.MemberSubject(hh, "m1"), hh} {
		if err := v.Erase(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := domain.OpenText(ctx, v, tok); err != nil || !r.Erased || domain.ShownText(ctx, v, tok) != "[erased]" {
		t.Fatalf("after erasure: %+v %v", r, err)
	}
	if match(domain.MemberSubject(hh, "m1"), "王秀英") {
		t.Fatal("the tag still matches after erasure")
	}
}
