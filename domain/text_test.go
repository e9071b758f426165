package domain_test

import (
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
