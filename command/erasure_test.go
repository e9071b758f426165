package command_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/keystore"
)

// officer is a command by a privacy officer.
func officer(tb testing.TB, id, name, when string) command.Cmd {
	c := cmd(tb, id, name, when)
	c.Role = domain.RolePrivacyOfficer
	return c
}

// eraseHousehold erases a whole household through the product path: a
// supervisor requests, a privacy officer approves, the keys are destroyed.
func eraseHousehold(t *testing.T, e *env, id, when string) {
	t.Helper()
	ctx := context.Background()
	req := cmd(t, "erase-req-"+id, "王督导", when)
	req.Role = domain.RoleSupervisor
	ok(t)(e.svc.RequestErasure(ctx, req, id, command.Erasure{RequestID: "er-" + id, Scope: domain.EraseHousehold,
		LegalBasis: domain.BasisConsentWithdrawn, Reference: "PIPL-2026-001"}))
	ok(t)(e.svc.ApproveErasure(ctx, officer(t, "erase-ok-"+id, "隐私官老周", when), id, "er-"+id))
}

func TestErasureNeedsASecondPersonAndShredsTheKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("li", domain.ClassKey, domain.RiskYellow, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m1", "网格员小李", "2026-03-02 09:30"), "li", "m1",
		command.Member{Name: "李大爷", Relation: "本人", IDNumber: "110101194801010023", Phone: "13912345678"}))
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m2", "网格员小李", "2026-03-02 09:31"), "li", "m2",
		command.Member{Name: "李大妈", Relation: "配偶", Phone: "13800000000", Health: "高血压"}))
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v1", "网格员小李", "2026-03-02 12:00"), "li", evidence(command.Visit{VisitID: "v1", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-03-02 10:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, Economic: "低保"})))

	// Bad requests are refused, bilingually, and record nothing.
	req := func(id string, in command.Erasure) (command.Result, error) {
		c := cmd(t, id, "王督导", "2026-03-03 09:00")
		c.Role = domain.RoleSupervisor
		return e.svc.RequestErasure(ctx, c, "li", in)
	}
	r, err := req("bad1", command.Erasure{RequestID: "r0", Scope: domain.EraseMember, MemberID: "m1", LegalBasis: "because", Reference: "R-1"})
	fails(t, r, err, "invalid_legal_basis", domain.ErrInvalid)
	r, err = req("bad2", command.Erasure{RequestID: "r0", Scope: domain.EraseMember, MemberID: "m1", LegalBasis: domain.BasisServiceEnded})
	fails(t, r, err, "required", domain.ErrInvalid)
	r, err = req("bad3", command.Erasure{RequestID: "r0", Scope: domain.EraseMember, MemberID: "m1", LegalBasis: domain.BasisServiceEnded, Reference: "李大爷 本人"})
	fails(t, r, err, "invalid_reference", domain.ErrInvalid)
	r, err = req("bad4", command.Erasure{RequestID: "r0", Scope: domain.EraseMember, MemberID: "m9", LegalBasis: domain.BasisServiceEnded, Reference: "R-1"})
	fails(t, r, err, "member_not_found", domain.ErrNotFound)

	// One member: requested; the requester cannot approve; a worker cannot.
	ok(t)(req("r1", command.Erasure{RequestID: "r1", Scope: domain.EraseMember, MemberID: "m1", LegalBasis: domain.BasisConsentWithdrawn, Reference: "PIPL-2026-007"}))
	self := officer(t, "self", "王督导", "2026-03-03 10:00")
	r, err = e.svc.ApproveErasure(ctx, self, "li", "r1")
	fails(t, r, err, "second_person_required", domain.ErrRule)
	r, err = e.svc.ApproveErasure(ctx, cmd(t, "worker", "网格员小李", "2026-03-03 10:00"), "li", "r1")
	fails(t, r, err, "privacy_officer_required", domain.ErrRule)
	before := e.household("li")
	m1 := before.Members()[0]
	if v, err := domain.Reveal(ctx, e.vault, "li", m1.Phone); err != nil || v.Value != "13912345678" {
		t.Fatalf("before approval: %+v %v", v, err)
	}
	res := ok(t)(e.svc.ApproveErasure(ctx, officer(t, "ok1", "隐私官老周", "2026-03-03 11:00"), "li", "r1"))
	if res.Events != 2 || res.ID != "r1" {
		t.Fatalf("approval result: %+v", res)
	}
	e.wantTypes(domain.HouseholdStream("li"), domain.TypeHouseholdRegistered, domain.TypeHouseholdConsentRecorded,
		domain.TypeHouseholdMemberAdded, domain.TypeHouseholdMemberAdded, domain.TypeVisitRecorded,
		domain.TypeHouseholdErasureRequested, domain.TypeHouseholdErasureApproved, domain.TypeHouseholdErasureCompleted)
	// Resending the approval changes nothing.
	if res := ok(t)(e.svc.ApproveErasure(ctx, officer(t, "ok1", "隐私官老周", "2026-03-03 11:00"), "li", "r1")); res.Events == 0 && !res.Replayed {
		t.Fatalf("resent approval: %+v", res)
	}
	if n := len(e.stream(domain.HouseholdStream("li"))); n != 8 {
		t.Fatalf("%d events after a resent approval", n)
	}

	// m1's fields are erased; m2's and the visit's still open.
	h := e.household("li")
	if !h.MemberErased("m1") || h.MemberErased("m2") || h.Erased() {
		t.Fatalf("erased: m1 %v m2 %v household %v", h.MemberErased("m1"), h.MemberErased("m2"), h.Erased())
	}
	m1, m2 := h.Members()[0], h.Members()[1]
	for _, f := range []domain.Sealed{m1.IDNumber, m1.Phone} {
		if v, err := domain.Reveal(ctx, e.vault, "li", f); err != nil || !v.Erased {
			t.Fatalf("m1 after erasure: %+v %v", v, err)
		}
	}
	if v, err := domain.Reveal(ctx, e.vault, "li", m2.Health); err != nil || v.Value != "高血压" {
		t.Fatalf("m2 after m1's erasure: %+v %v", v, err)
	}
	if v, err := domain.Reveal(ctx, e.vault, "li", h.Visits()[0].Understandings.Economic); err != nil || v.Value != "低保" {
		t.Fatalf("visit after m1's erasure: %+v %v", v, err)
	}
	if erased, err := e.vault.Erased(ctx, "li", m1.Phone); err != nil || !erased {
		t.Fatalf("Erased(m1.Phone) = %v %v", erased, err)
	}
	// The erased member takes no new personal data.
	r, err = e.svc.ChangeMember(ctx, cmd(t, "c1", "网格员小李", "2026-03-04 09:00"), "li", "m1", command.Member{Name: "李大爷", Relation: "本人", Phone: "13900000000"}, "换号")
	fails(t, r, err, "household_erased", domain.ErrErased)

	// The whole household; then nothing of it opens, and nothing new is sealed.
	eraseHousehold(t, e, "li", "2026-03-05 09:00")
	h = e.household("li")
	if !h.Erased() || !h.MemberErased("m2") {
		t.Fatal("household not erased")
	}
	for _, f := range []domain.Sealed{h.Members()[1].Health, h.Members()[1].Phone, h.Visits()[0].Understandings.Economic} {
		if v, err := domain.Reveal(ctx, e.vault, "li", f); err != nil || !v.Erased {
			t.Fatalf("after household erasure: %+v %v", v, err)
		}
	}
	r, err = e.svc.AddMember(ctx, cmd(t, "m3", "网格员小李", "2026-03-06 09:00"), "li", "m3", command.Member{Name: "新成员", Relation: "子女", Phone: "13700000000"})
	fails(t, r, err, "household_erased", domain.ErrErased)
	r, err = req("again", command.Erasure{RequestID: "r9", Scope: domain.EraseHousehold, LegalBasis: domain.BasisServiceEnded, Reference: "R-9"})
	fails(t, r, err, "already_erased", domain.ErrRule)

	// The events carry no personal data, and every chain still verifies.
	for _, ev := range e.stream(domain.HouseholdStream("li"))[5:] {
		for _, s := range []string{"李大爷", "李大妈", "13912345678", "高血压"} {
			if bytes.Contains(ev.Data, []byte(s)) {
				t.Fatalf("%s carries %q", ev.Type, s)
			}
		}
	}
	if n, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil || n == 0 {
		t.Fatalf("verify: %d %v", n, err)
	}
}

// flakyEraser is the vault with an Erase that fails while down is set, as a
// remote key store that cannot be reached.
type flakyEraser struct {
	*keystore.Vault
	down bool
}

func (f *flakyEraser) Erase(ctx context.Context, subject string) error {
	if f.down {
		return errors.New("key store unreachable")
	}
	return f.Vault.Erase(ctx, subject)
}

// A request whose keys could not be destroyed (the key store failing) is
// left approved, not completed; approving again completes it.
func TestErasureCompletesOnRetry(t *testing.T) {
	flaky := &flakyEraser{}
	e := newEnv(t, func(c *command.Config) { flaky.Vault = c.Sealer.(*keystore.Vault); c.Sealer = flaky })
	ctx := context.Background()
	e.register("zhao", domain.ClassOrdinary, domain.RiskGreen, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m1", "网格员小李", "2026-03-02 09:30"), "zhao", "m1", command.Member{Name: "赵", Relation: "本人", Phone: "13911112222"}))
	req := cmd(t, "req", "王督导", "2026-03-03 09:00")
	req.Role = domain.RoleSupervisor
	ok(t)(e.svc.RequestErasure(ctx, req, "zhao", command.Erasure{RequestID: "r1", Scope: domain.EraseHousehold, LegalBasis: domain.BasisPurposeAchieved, Reference: "R-2"}))
	flaky.down = true
	if _, err := e.svc.ApproveErasure(ctx, officer(t, "ok1", "隐私官老周", "2026-03-03 10:00"), "zhao", "r1"); err == nil {
		t.Fatal("approval with the key store down reported success")
	}
	h := e.household("zhao")
	if r, _ := h.ErasureRequest("r1"); r.ApprovedBy != "隐私官老周" || r.Completed || h.Erased() {
		t.Fatalf("after a failed erasure: %+v", r)
	}
	flaky.down = false
	ok(t)(e.svc.ApproveErasure(ctx, officer(t, "ok2", "隐私官老周", "2026-03-03 10:05"), "zhao", "r1"))
	h = e.household("zhao")
	if r, _ := h.ErasureRequest("r1"); !r.Completed || !h.Erased() {
		t.Fatalf("after the retry: %+v", r)
	}
	if v, err := domain.Reveal(ctx, e.vault, "zhao", h.Members()[0].Phone); err != nil || !v.Erased {
		t.Fatalf("phone after erasure: %+v %v", v, err)
	}
}
