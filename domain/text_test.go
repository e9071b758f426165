package domain_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// Issue 13 item 14: community and grid accepted NUL, and no name or free
// text had a bound of its own.
func TestNamesAndTextsAreBounded(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	reg := func(f func(*domain.RegisterHousehold)) error {
		in := domain.RegisterHousehold{Address: "幸福路 1 号", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "小李", Class: domain.ClassKey, Risk: domain.RiskRed}
		f(&in)
		_, err := domain.NewHousehold("h1").Register(meta(t, "a", "2026-03-02 09:00"), pol, in)
		return err
	}
	for name, f := range map[string]func(*domain.RegisterHousehold){
		"NUL in community":      func(in *domain.RegisterHousehold) { in.Community = "幸福\x00社区" },
		"NUL in grid":           func(in *domain.RegisterHousehold) { in.Grid = "G\x00" },
		"newline in grid":       func(in *domain.RegisterHousehold) { in.Grid = "G\n1" },
		"bidi override":         func(in *domain.RegisterHousehold) { in.Community = "a\u202Eb" },
		"long community":        func(in *domain.RegisterHousehold) { in.Community = strings.Repeat("社", domain.MaxNameBytes) },
		"control in the worker": func(in *domain.RegisterHousehold) { in.ResponsibleWorker = "w\x07" },
	} {
		err := reg(f)
		var de *domain.Error
		if code := domain.CodeOf(err); (code != "invalid_text" && code != "text_too_long") || !asError(err, &de) || de.MessageZH == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := reg(func(*domain.RegisterHousehold) {}); err != nil {
		t.Fatalf("a good registration: %v", err)
	}
	h, _ := registered(t, "h2")
	if _, err := h.Relocate(meta(t, "a", "2026-03-03 09:00"), "新地址", "山联村", "G\x00", "搬家"); domain.CodeOf(err) != "invalid_text" {
		t.Errorf("relocating to a grid with NUL: %v", err)
	}
	if err := domain.CheckText("note", "第一行\n第二行\t缩进"); err != nil {
		t.Errorf("free text with line breaks: %v", err)
	}
	if err := domain.CheckText("note", strings.Repeat("x", domain.MaxTextBytes+1)); domain.CodeOf(err) != "text_too_long" {
		t.Errorf("free text over the bound: %v", err)
	}
	if err := domain.CheckText("note", "a\x00b"); domain.CodeOf(err) != "invalid_text" {
		t.Errorf("free text with NUL: %v", err)
	}
}

// Issue 13 item 14: changing a member's phone erased their id number,
// income and health (the change replaced all details). It merges.
func TestChangeMemberMergesDetails(t *testing.T) {
	v := newVault()
	h, _ := registered(t, "h1")
	do(t, h)(h.RecordConsent(meta(t, "a", "2026-03-02 10:00"), true, "all", "签字"))
	id, income, health := sealed(t, v, "h1", "110101199001011234"), sealed(t, v, "h1", "1200"), sealed(t, v, "h1", "高血压")
	do(t, h)(h.AddMember(meta(t, "a", "2026-03-02 11:00"), "m1", domain.MemberDetails{Name: "王芳", Relation: "本人", Occupation: "退休",
		IDNumber: id, Phone: sealed(t, v, "h1", "13800000000"), Income: income, Health: health}))
	phone2 := sealed(t, v, "h1", "13900000000")
	do(t, h)(h.ChangeMember(meta(t, "a", "2026-03-03 09:00"), "m1", domain.MemberDetails{Phone: phone2}, "换号"))
	m, _ := h.Member("m1")
	if m.Name != "王芳" || m.Relation != "本人" || m.Occupation != "退休" {
		t.Errorf("public details lost: %+v", m.MemberDetails)
	}
	if m.Phone.KeyID != phone2.KeyID || string(m.Phone.Ciphertext) != string(phone2.Ciphertext) {
		t.Errorf("the phone was not changed")
	}
	if string(m.IDNumber.Ciphertext) != string(id.Ciphertext) || string(m.Income.Ciphertext) != string(income.Ciphertext) || string(m.Health.Ciphertext) != string(health.Ciphertext) {
		t.Errorf("changing the phone erased other sensitive details: %+v", m.MemberDetails)
	}
}

func asError(err error, de **domain.Error) bool { return errors.As(err, de) }

// Issue 13 item 14 after decision 0108: a household folded from the log
// holds its members' names, birth dates and occupations as sealed tokens,
// which the text rule refuses (they start with U+001F). ChangeMember
// checked the merged details, kept tokens included, so changing only a
// phone failed with invalid_text on the name. It checks what the change
// sets, and keeps the tokens as they are.
func TestChangeMemberKeepsSealedText(t *testing.T) {
	v := newVault()
	h, _ := registered(t, "h1")
	do(t, h)(h.RecordConsent(meta(t, "a", "2026-03-02 10:00"), true, "all", "签字"))
	ctx := context.Background()
	sub := domain.MemberSubject("h1", "m1")
	tok := func(s string) string {
		x, err := domain.SealText(ctx, v, sub, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	name, birth, occ := tok("王芳"), tok("1950-01-01"), tok("退休")
	// As the command layer stores it and a fold reads it back.
	h.Apply(domain.HouseholdMemberAdded{MemberID: "m1", MemberDetails: domain.MemberDetails{Name: name, Relation: "本人", BirthDate: birth, Occupation: occ,
		Phone: sealed(t, v, "h1", "13800000000")}, At: at(t, "2026-03-02 11:00"), By: "a"})
	phone2 := sealed(t, v, "h1", "13900000000")
	evs, err := h.ChangeMember(meta(t, "a", "2026-03-03 09:00"), "m1", domain.MemberDetails{Phone: phone2}, "换号")
	if err != nil {
		t.Fatalf("changing only the phone of a member held sealed: %v", err)
	}
	got := evs[0].(domain.HouseholdMemberChanged).MemberDetails
	if got.Name != name || got.BirthDate != birth || got.Occupation != occ || got.Relation != "本人" || string(got.Phone.Ciphertext) != string(phone2.Ciphertext) {
		t.Fatalf("merged details: %+v", got)
	}
	// What the change sets is still checked.
	for _, c := range []struct {
		d    domain.MemberDetails
		code string
	}{
		{domain.MemberDetails{Name: "王\x00芳"}, "invalid_text"},
		{domain.MemberDetails{Name: "  "}, "required"},
		{domain.MemberDetails{BirthDate: "1950-13-40"}, "invalid_birth_date"},
		{domain.MemberDetails{Occupation: strings.Repeat("职", domain.MaxNameBytes)}, "text_too_long"},
	} {
		_, err := h.ChangeMember(meta(t, "a", "2026-03-03 10:00"), "m1", c.d, "更正")
		var de *domain.Error
		if !asError(err, &de) || de.Code != c.code || de.MessageZH == "" {
			t.Errorf("change %+v: %v, want %s", c.d, err, c.code)
		}
	}
}
