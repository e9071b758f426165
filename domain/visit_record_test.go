package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// home is a completed home visit by the given members, with a purpose,
// the five understandings, the next contact and a check-in: everything
// the shipped policy asks but the team.
func home(t *testing.T, id, when string, members ...domain.TeamMember) domain.RecordVisit {
	at := at(t, when)
	return domain.RecordVisit{VisitID: id, Members: members, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
		Purpose: domain.PurposeRoutine, Covered: domain.FiveUnderstandings(),
		NextContact: &domain.NextContact{Person: members[0].Person, At: at.Add(7 * 24 * time.Hour)},
		CheckIn:     &domain.CheckIn{At: at, Latitude: 30.27, Longitude: 120.15}}
}

func member(p string, r domain.TeamRole) domain.TeamMember {
	return domain.TeamMember{Person: p, Role: r}
}

// incomplete checks that err is visit_incomplete naming every item of
// want (English and Chinese halves).
func incomplete(t *testing.T, err error, want ...[2]string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != "visit_incomplete" || !errors.Is(err, domain.ErrRule) {
		t.Fatalf("want visit_incomplete, got %v", err)
	}
	for _, w := range want {
		if !strings.Contains(de.Message, w[0]) || !strings.Contains(de.MessageZH, w[1]) {
			t.Errorf("the error does not name %q / %q:\n%s\n%s", w[0], w[1], de.Message, de.MessageZH)
		}
	}
}

// 001 §4.2 重点群体优先走访，如独居老人、残疾人家庭，由网格员和医生、志愿者共同走访:
// a special household's home visit needs a grid worker, a doctor and a
// volunteer (or social worker); the error says exactly who is missing.
func TestSeed001_4_2_KeyGroupsVisitedByGridWorkerDoctorAndVolunteer(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Circumstances: []domain.Circumstance{domain.CircumstanceElderlyAlone}})
	m := meta(t, "网格员小李", "2026-02-03 17:00")
	alone := home(t, "v1", "2026-02-03 16:00", member("网格员小李", domain.TeamGridWorker))
	evs, err := h.RecordVisit(m, pol, alone)
	if evs != nil {
		t.Fatal("an incomplete visit recorded events")
	}
	incomplete(t, err, [2]string{"special household", "特殊家庭"}, [2]string{"as doctor", "医生"}, [2]string{"volunteer or social worker", "志愿者或社工"})
	full := home(t, "v1", "2026-02-03 16:00", member("网格员小李", domain.TeamGridWorker), member("医生王", domain.TeamDoctor), member("志愿者小陈", domain.TeamVolunteer))
	v := do(t, h)(h.RecordVisit(m, pol, full))[0].(domain.VisitRecorded)
	if len(v.Members) != 3 || v.Members[1] != member("医生王", domain.TeamDoctor) || strings.Join(v.Team, ",") != "网格员小李,医生王,志愿者小陈" {
		t.Fatalf("members %+v team %v", v.Members, v.Team)
	}
}

// 000 §3.1 "1+1+N": one community cadre, one professional social worker, N
// volunteers make a complete team for a key household.
func TestSeed000_3_1_OnePlusOnePlusNTeam(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	m := domain.Meta{Actor: "社区干部老王", Role: domain.RoleSupervisor, At: at(t, "2026-02-03 17:00")}
	in := home(t, "v1", "2026-02-03 16:00", member("社区干部老王", domain.TeamCommunityCadre), member("社工小张", domain.TeamSocialWorker),
		member("志愿者甲", domain.TeamVolunteer), member("志愿者乙", domain.TeamVolunteer))
	do(t, h)(h.RecordVisit(m, pol, in))
	// Without the social worker and the volunteers the cadre is alone.
	in = home(t, "v2", "2026-02-03 16:00", member("社区干部老王", domain.TeamCommunityCadre))
	_, err := h.RecordVisit(m, pol, in)
	incomplete(t, err, [2]string{"1 more team member(s) as doctor or social worker or volunteer", "再有 1 名医生或社工或志愿者参加走访"})
}

// 001 §2.3.4 / §3.2 "1+3+N": the secretary, grid workers and volunteers
// are named with their roles, and only a member of the team may record the
// visit.
func TestSeed001_2_3_4_OnePlusThreePlusNTeamAndTheRecorderOnIt(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	team := []domain.TeamMember{member("书记老周", domain.TeamSecretary), member("网格员小李", domain.TeamGridWorker),
		member("网格员小王", domain.TeamGridWorker), member("网格员小赵", domain.TeamGridWorker), member("医生王", domain.TeamDoctor), member("志愿者小陈", domain.TeamVolunteer)}
	in := home(t, "v1", "2026-02-03 16:00", team...)
	_, err := h.RecordVisit(meta(t, "网格员小孙", "2026-02-03 17:00"), pol, in)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != "recorder_not_on_team" || !strings.Contains(de.Message, "网格员小孙") || !strings.Contains(de.MessageZH, "不在走访人员中") {
		t.Fatalf("a recorder not on the team: %v", err)
	}
	v := do(t, h)(h.RecordVisit(meta(t, "网格员小王", "2026-02-03 17:00"), pol, in))[0].(domain.VisitRecorded)
	if len(v.Members) != 6 || v.Members[0].Role != domain.TeamSecretary {
		t.Fatalf("members %+v", v.Members)
	}
	// A role outside the list and a person named twice are refused.
	bad := home(t, "v2", "2026-02-03 16:00", member("网格员小王", "pilot"))
	if _, err := h.RecordVisit(meta(t, "网格员小王", "2026-02-03 17:00"), pol, bad); domain.CodeOf(err) != "invalid_team" {
		t.Errorf("an unknown role: %v", err)
	}
	bad = home(t, "v2", "2026-02-03 16:00", member("网格员小王", domain.TeamGridWorker), member("网格员小王", domain.TeamDoctor))
	if _, err := h.RecordVisit(meta(t, "网格员小王", "2026-02-03 17:00"), pol, bad); domain.CodeOf(err) != "team_duplicate" {
		t.Errorf("a person twice: %v", err)
	}
}

// 002 五了解: a key household's visit covers health, economic situation,
// support obligations, home safety and service needs; what is covered is
// recorded from the list and from the notes given, and a missing one is
// named.
func TestSeed002_FiveUnderstandingsCovered(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	m := meta(t, "网格员小李", "2026-02-03 17:00")
	in := home(t, "v1", "2026-02-03 16:00", member("网格员小李", domain.TeamGridWorker), member("医生王", domain.TeamDoctor))
	in.Covered = []domain.Understanding{domain.UnderstandHealth, domain.UnderstandSupportObligations}
	in.Understandings.ServiceNeeds = "助餐"
	_, err := h.RecordVisit(m, pol, in)
	incomplete(t, err, [2]string{"the understanding of economic situation", "了解经济状况"}, [2]string{"home safety", "家庭安全情况"})
	if strings.Contains(err.Error(), "service needs") {
		t.Errorf("service needs were noted, so covered: %v", err)
	}
	in.Covered = append(in.Covered, domain.UnderstandEconomic, domain.UnderstandHomeSafety)
	v := do(t, h)(h.RecordVisit(m, pol, in))[0].(domain.VisitRecorded)
	if len(v.Covered) != 5 || v.Covered[4] != domain.UnderstandServiceNeeds || v.Covered[0] != domain.UnderstandHealth {
		t.Fatalf("covered %v", v.Covered)
	}
	in.VisitID, in.Covered = "v2", []domain.Understanding{"gossip"}
	if _, err := h.RecordVisit(m, pol, in); domain.CodeOf(err) != "invalid_covered" {
		t.Errorf("an unknown understanding: %v", err)
	}
}

// 000 §3.2 告别与跟进：明确后续联系人和时间; 004 §1.1 明确走访目的.
func TestSeed000_3_2_NextContactAndPurpose(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryTeKun})
	m := meta(t, "网格员小李", "2026-02-03 17:00")
	in := home(t, "v1", "2026-02-03 16:00", member("网格员小李", domain.TeamGridWorker), member("志愿者小陈", domain.TeamVolunteer))
	in.NextContact, in.Purpose = nil, ""
	_, err := h.RecordVisit(m, pol, in)
	incomplete(t, err, [2]string{"key household", "重点家庭"}, [2]string{"the next contact person and time", "后续联系人和联系时间"}, [2]string{"the purpose of the visit", "走访目的"})
	in.Purpose = domain.PurposeNeedsSurvey
	in.NextContact = &domain.NextContact{Person: "网格员小李", At: at(t, "2026-02-03 15:00")}
	if _, err := h.RecordVisit(m, pol, in); domain.CodeOf(err) != "next_contact_out_of_range" {
		t.Errorf("a next contact before the visit: %v", err)
	}
	in.NextContact.At = at(t, "2026-03-03 10:00")
	v := do(t, h)(h.RecordVisit(m, pol, in))[0].(domain.VisitRecorded)
	if v.Purpose != domain.PurposeNeedsSurvey || v.NextContact.Person != "网格员小李" {
		t.Fatalf("visit %+v", v)
	}
}

// 004 §7.1 现场记录：定位签到: where the policy asks for it (key and special
// households), the check-in has a time near the visit's and a place.
func TestSeed004_7_1_CheckInWhereThePolicyRequiresIt(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	m := meta(t, "网格员小李", "2026-02-05 17:00")
	in := home(t, "v1", "2026-02-05 16:00", member("网格员小李", domain.TeamGridWorker), member("医生王", domain.TeamDoctor))
	in.CheckIn = nil
	_, err := h.RecordVisit(m, pol, in)
	incomplete(t, err, [2]string{"a check-in with its time and place", "定位签到（时间和地点）"})
	in.CheckIn = &domain.CheckIn{At: at(t, "2026-02-03 09:00"), Ref: "gps-1"}
	if _, err := h.RecordVisit(m, pol, in); domain.CodeOf(err) != "check_in_far_from_visit" {
		t.Errorf("a check-in two days before: %v", err)
	} else if zh := err.(*domain.Error).MessageZH; !strings.Contains(zh, "相差超过 "+pol.VisitRecord.CheckInWithin.ZH()+"；") || strings.ContainsAny(zh, "abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("a check-in two days before, in Chinese: %q", zh) // issue 20: no English word in a Chinese message
	}
	in.CheckIn = &domain.CheckIn{At: at(t, "2026-02-05 16:05")}
	_, err = h.RecordVisit(m, pol, in)
	incomplete(t, err, [2]string{"check-in", "定位签到"}) // no place
	in.CheckIn.Place = domain.Sealed{KeyID: "k1", Ciphertext: []byte{1, 2, 3}}
	do(t, h)(h.RecordVisit(m, pol, in))
	// An ordinary household's visit needs no check-in; a refusal needs no
	// evidence but the team with the recorder on it.
	o, _, _ := register(t, pol, "h2", domain.RegisterHousehold{})
	in = home(t, "v1", "2026-02-05 16:00", member("网格员小李", domain.TeamGridWorker))
	in.CheckIn = nil
	do(t, o)(o.RecordVisit(m, pol, in))
	do(t, o)(o.RecordVisit(m, pol, domain.RecordVisit{VisitID: "v2", Team: []string{"网格员小李"}, OccurredAt: at(t, "2026-02-05 16:30"),
		Mode: domain.ModeHome, Outcome: domain.OutcomeRefused}))
}

// A team given by names only (the request of before decision 0120) is
// accepted where the class's minimum allows: the recorder takes their
// account's role. Events recorded before keep reading, without roles.
func TestVisitTeamByNamesAndOldEvents(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{})
	in := domain.RecordVisit{VisitID: "v1", Team: []string{"网格员小李", "志愿者小陈"}, OccurredAt: at(t, "2026-02-03 16:00"), Mode: domain.ModeHome,
		Outcome: domain.OutcomeCompleted}
	// Recorded by someone not on it, it is refused.
	if _, err := h.RecordVisit(meta(t, "网格员小王", "2026-02-03 17:00"), pol, in); domain.CodeOf(err) != "recorder_not_on_team" {
		t.Fatalf("recorder not on the team: %v", err)
	}
	v := do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2026-02-03 17:00"), pol, in))[0].(domain.VisitRecorded)
	if len(v.Members) != 2 || v.Members[0].Role != domain.TeamGridWorker || v.Members[1].Role != "" {
		t.Fatalf("members %+v", v.Members)
	}
	// An account whose role is no team role (an administrator) meets no
	// minimum by itself.
	in.VisitID, in.Team = "v1b", []string{"管理员"}
	adm := domain.Meta{Actor: "管理员", Role: domain.RoleAdmin, At: at(t, "2026-02-03 17:00")}
	if _, err := h.RecordVisit(adm, pol, in); domain.CodeOf(err) != "visit_incomplete" {
		t.Fatalf("an administrator alone: %v", err)
	}
	old := []byte(`{"visit_id":"v0","team":["网格员小李","社工小张"],"occurred_at":"2026-01-10T08:00:00Z","recorded_at":"2026-01-10T09:00:00Z","mode":"home","outcome":"completed","late":false,"policy_version":"default-2026.3","by":"网格员小李"}`)
	var e domain.VisitRecorded
	if err := json.Unmarshal(old, &e); err != nil {
		t.Fatal(err)
	}
	if ms := e.TeamMembers(); len(ms) != 2 || ms[1] != (domain.TeamMember{Person: "社工小张"}) || e.Purpose != "" {
		t.Fatalf("old event: %+v", ms)
	}
	// Under a policy without visit_record rules (default-2026.3) anyone
	// may record any team, as before.
	set, err := domain.DefaultPolicySet()
	if err != nil {
		t.Fatal(err)
	}
	prev, err := set.Get("default-2026.3")
	if err != nil {
		t.Fatal(err)
	}
	do(t, h)(h.RecordVisit(meta(t, "a", "2026-02-04 17:00"), prev, domain.RecordVisit{VisitID: "v2", Team: []string{"w"},
		OccurredAt: at(t, "2026-02-04 16:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted}))
}

// 001 §6.3 对拒绝配合的居民，由社区书记或网格员二次走访 (decision 0121): a refusal or
// nobody at home starts the second_visit clock; a later visit by a team
// without the secretary or a grid worker neither stops nor restarts it; a
// visit by the secretary stops it (and, refused again, starts a new one).
func TestSeed001_6_3_SecondVisitBySecretaryOrGridWorker(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	cal := mustCalendar(t)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	refusal := func(id, when string, team ...domain.TeamMember) domain.VisitRecorded {
		m := meta(t, team[0].Person, when)
		return do(t, h)(h.RecordVisit(m, pol, domain.RecordVisit{VisitID: id, Members: team, OccurredAt: m.At.Add(-time.Hour),
			Mode: domain.ModeHome, Outcome: domain.OutcomeRefused}))[0].(domain.VisitRecorded)
	}
	second := func() (domain.Clock, bool) {
		for _, c := range h.Clocks() {
			if c.Kind == domain.ClockSecondVisit {
				return c, true
			}
		}
		return domain.Clock{}, false
	}
	if v := refusal("v1", "2026-02-02 11:00", member("社工小张", domain.TeamSocialWorker)); !v.SecondVisitRequired {
		t.Fatalf("a refusal needs a second visit: %+v", v)
	}
	c, ok := second()
	if !ok || !c.Start.Equal(at(t, "2026-02-02 10:00")) || c.Responsible != "网格员小李" {
		t.Fatalf("second visit clock %+v %v", c, ok)
	}
	d, ok, err := pol.Deadline(cal, c)
	if err != nil || !ok || d.Due.Before(at(t, "2026-02-06 23:00")) || d.Due.After(at(t, "2026-02-10 00:00")) {
		t.Fatalf("due %s (%v), want the end of the 5th working day", d.Due, err)
	}
	// A volunteer finds nobody home: the clock is unchanged.
	if v := refusal("v2", "2026-02-03 11:00", member("志愿者小陈", domain.TeamVolunteer)); v.SecondVisitRequired || v.SecondVisitFor != "" {
		t.Fatalf("a volunteer's visit: %+v", v)
	}
	if c2, _ := second(); !c2.Start.Equal(c.Start) {
		t.Fatalf("the clock moved: %+v", c2)
	}
	// The secretary is refused again: that answers v1 and starts anew.
	v := refusal("v3", "2026-02-04 11:00", member("书记老周", domain.TeamSecretary))
	if v.SecondVisitFor != "v1" || !v.SecondVisitRequired {
		t.Fatalf("the secretary's visit: %+v", v)
	}
	if c3, _ := second(); !c3.Start.Equal(at(t, "2026-02-04 10:00")) {
		t.Fatalf("the clock did not restart: %+v", c3)
	}
	// A completed visit by the grid worker ends it.
	m := meta(t, "网格员小李", "2026-02-05 17:00")
	v = do(t, h)(h.RecordVisit(m, pol, home(t, "v4", "2026-02-05 16:00", member("网格员小李", domain.TeamGridWorker), member("医生王", domain.TeamDoctor))))[0].(domain.VisitRecorded)
	if v.SecondVisitFor != "v3" || v.SecondVisitRequired {
		t.Fatalf("the grid worker's visit: %+v", v)
	}
	if _, ok := second(); ok {
		t.Fatal("the clock still runs")
	}
	// Under a policy without the rule (default-2026.3) a refusal needs nothing.
	set, _ := domain.DefaultPolicySet()
	prev, _ := set.Get("default-2026.3")
	if v := refusal("v5", "2026-02-06 11:00", member("网格员小李", domain.TeamGridWorker)); !v.SecondVisitRequired {
		t.Fatal("current policy: required")
	}
	m = meta(t, "网格员小李", "2026-02-07 11:00")
	evs := do(t, h)(h.RecordVisit(m, prev, domain.RecordVisit{VisitID: "v6", Team: []string{"网格员小李"}, OccurredAt: m.At.Add(-time.Hour),
		Mode: domain.ModeHome, Outcome: domain.OutcomeNobodyHome}))
	if v := evs[0].(domain.VisitRecorded); v.SecondVisitRequired || v.SecondVisitFor != "v5" {
		t.Fatalf("old policy: %+v", v)
	}
}
