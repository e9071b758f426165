package domain_test

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

func requested(t *testing.T, id string) (*domain.Referral, *domain.Policy) {
	t.Helper()
	pol := mustPolicy(t, domain.PresetDefault)
	r := domain.NewReferral(id)
	do(t, r)(r.Request(meta(t, "网格员小李", "2026-03-02 10:00"), pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "h1",
		Level: domain.LevelCommunity, To: "幸福社区居委会", Request: "协调加装电梯"}))
	return r, pol
}

func TestReferralRules(t *testing.T) {
	cal := mustCalendar(t)
	m := func(when string) domain.Meta { return meta(t, "民政局老陈", when) }
	accept := func(r *domain.Referral) {
		do(t, r)(r.Accept(m("2026-03-03 10:00"), cal, "民政局老陈", domain.WorkingDays(10), ""))
	}
	tests := []struct {
		name  string
		setup func(r *domain.Referral)
		run   func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error)
		code  string
		kind  error
	}{
		{"request twice", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Request(m("2026-03-02 11:00"), pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "h1", Level: domain.LevelStreet, To: "x", Request: "y"})
		}, "referral_exists", domain.ErrConflict},
		{"accept without responsible", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Accept(m("2026-03-03 10:00"), cal, "", domain.WorkingDays(10), "")
		}, "required", domain.ErrInvalid},
		{"accept without time limit", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Accept(m("2026-03-03 10:00"), cal, "老陈", domain.Span{}, "")
		}, "required", domain.ErrInvalid},
		{"accept twice", accept, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Accept(m("2026-03-03 11:00"), cal, "老陈", domain.WorkingDays(10), "")
		}, "referral_invalid_transition", domain.ErrRule},
		{"decline without reason", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Decline(m("2026-03-03 10:00"), "")
		}, "required", domain.ErrInvalid},
		{"complete before start", accept, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Complete(m("2026-03-04 10:00"), "done", nil)
		}, "referral_invalid_transition", domain.ErrRule},
		{"start before acceptance", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Start(m("2026-03-04 10:00"), "")
		}, "referral_invalid_transition", domain.ErrRule},
		{"cancel declined", func(r *domain.Referral) { do(t, r)(r.Decline(m("2026-03-03 10:00"), "不属本部门职责")) },
			func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
				return r.Cancel(m("2026-03-04 10:00"), "r")
			},
			"referral_invalid_transition", domain.ErrRule},
		{"escalate sideways", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Escalate(m("2026-03-04 10:00"), pol, domain.LevelCommunity, "另一社区", "r")
		}, "escalation_not_upward", domain.ErrRule},
		{"escalate without reason", nil, func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
			return r.Escalate(m("2026-03-04 10:00"), pol, domain.LevelStreet, "街道办", "")
		}, "required", domain.ErrInvalid},
		{"escalate cancelled", func(r *domain.Referral) { do(t, r)(r.Cancel(m("2026-03-03 10:00"), "家属自行解决")) },
			func(r *domain.Referral, pol *domain.Policy) ([]domain.Event, error) {
				return r.Escalate(m("2026-03-04 10:00"), pol, domain.LevelStreet, "街道办", "r")
			}, "referral_invalid_transition", domain.ErrRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, pol := requested(t, "r1")
			if tt.setup != nil {
				tt.setup(r)
			}
			v := r.Version()
			evs, err := tt.run(r, pol)
			fails(t, evs, err, tt.code, tt.kind)
			if r.Version() != v {
				t.Fatal("a command changed the aggregate")
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		r := domain.NewReferral("nope")
		evs, err := r.Start(m("2026-03-04 10:00"), "")
		fails(t, evs, err, "referral_not_found", domain.ErrNotFound)
	})
}

func TestReferralClocks(t *testing.T) {
	cal := mustCalendar(t)
	r, pol := requested(t, "r1")
	cs := r.Clocks()
	if len(cs) != 1 || cs[0].Kind != domain.ClockReferralAcceptance || cs[0].PolicyVersion != pol.Version {
		t.Fatalf("clocks = %+v", cs)
	}
	d, _, err := pol.Deadline(cal, cs[0])
	if err != nil || !d.Due.Equal(at(t, "2026-03-05 23:59").Add(59999999999)) {
		t.Fatalf("acceptance due %s %v", d.Due, err)
	}
	do(t, r)(r.Accept(meta(t, "民政局老陈", "2026-03-04 10:00"), cal, "民政局老陈", domain.Months(3), "三个月内完成"))
	cs = r.Clocks()
	if len(cs) != 1 || cs[0].Kind != domain.ClockReferralCompletion || !cs[0].Due.Equal(at(t, "2026-06-04 10:00")) || cs[0].Responsible != "民政局老陈" {
		t.Fatalf("clocks after acceptance = %+v", cs)
	}
	evs, err := r.RecordDeadlineAlert(domain.Meta{Actor: "w", At: at(t, "2026-03-06 10:00")}, d, domain.StageBreached, "")
	fails(t, evs, err, "clock_not_running", domain.ErrConflict)
	do(t, r)(r.Start(meta(t, "民政局老陈", "2026-03-05 10:00"), ""))
	do(t, r)(r.Complete(meta(t, "民政局老陈", "2026-05-05 10:00"), "已发放救助金", nil))
	if r.Clocks() != nil {
		t.Fatal("completed referral runs no clock")
	}
	evs, err = r.RecordDeadlineAlert(domain.Meta{Actor: "w", At: at(t, "2026-06-06 10:00")}, d, domain.StageBreached, "")
	fails(t, evs, err, "clock_not_running", domain.ErrConflict)
}
