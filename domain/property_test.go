package domain_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Property tests: thousands of seeded random command sequences per
// aggregate. After every command: a rejection is a complete *domain.Error and
// leaves the aggregate untouched; accepted events are registered, round-trip
// through JSON, advance the version by their count, and keep the invariants.
// Finally the recorded stream folds back to the same state.

const (
	propSequences = 2000
	propSteps     = 40
)

type propRun struct {
	t    *testing.T
	rng  *rand.Rand
	reg  *domain.Registry
	now  time.Time
	recs []domain.Recorded
}

func newPropRun(t *testing.T, seed uint64) *propRun {
	return &propRun{t: t, rng: rand.New(rand.NewPCG(seed, 0x5eed)), reg: domain.NewRegistry(), now: at(t, "2026-01-05 09:00")}
}

func (r *propRun) meta() domain.Meta {
	r.now = r.now.Add(time.Duration(r.rng.IntN(72*60)) * time.Minute)
	actors := []string{"网格员小李", "社工小张", "督导老周", ""}
	return domain.Meta{Actor: actors[r.rng.IntN(len(actors)*8)%len(actors)], Role: domain.RoleGridWorker, At: r.now}
}

func pick[T any](r *propRun, xs ...T) T { return xs[r.rng.IntN(len(xs))] }

// step checks one command's outcome and applies it.
func (r *propRun) step(a domain.Aggregate, name string, evs []domain.Event, err error) bool {
	t := r.t
	t.Helper()
	if err != nil {
		var de *domain.Error
		if !errors.As(err, &de) || de.Code == "" || de.Message == "" || de.MessageZH == "" {
			t.Fatalf("%s: incomplete error %v", name, err)
		}
		kinds := 0
		for _, k := range []error{domain.ErrInvalid, domain.ErrRule, domain.ErrNotFound, domain.ErrConflict} {
			if errors.Is(err, k) {
				kinds++
			}
		}
		if kinds != 1 || len(evs) != 0 {
			t.Fatalf("%s: error %v matches %d kinds, events %v", name, err, kinds, evs)
		}
		return false
	}
	if len(evs) == 0 {
		t.Fatalf("%s: success without events", name)
	}
	v := a.Version()
	for _, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := r.reg.Decode(e.EventType(), data)
		if err != nil {
			t.Fatalf("%s: %s does not decode: %v", name, e.EventType(), err)
		}
		a.Apply(back)
		r.recs = append(r.recs, domain.Recorded{Version: a.Version(), RecordedAt: r.now, Event: back})
	}
	if a.Version() != v+uint64(len(evs)) {
		t.Fatalf("%s: version %d after %d events from %d", name, a.Version(), len(evs), v)
	}
	for i, rec := range r.recs {
		if rec.Version != uint64(i+1) {
			t.Fatalf("versions not contiguous: %d at %d", rec.Version, i)
		}
	}
	return true
}

func TestPropertyProblem(t *testing.T) {
	cal := mustCalendar(t)
	pol := mustPolicy(t, domain.PresetDefault)
	for seed := range uint64(propSequences) {
		r := newPropRun(t, seed)
		p := domain.NewProblem("p")
		closed := false
		for range propSteps {
			m := r.meta()
			var evs []domain.Event
			var err error
			op := r.rng.IntN(12)
			switch op {
			case 0:
				evs, err = p.Report(m, pol, domain.ReportProblem{Number: pick(r, "WT2026000123", "WT2026000000", "WT2025000001"), HouseholdID: pick(r, "h", ""),
					Description: "d", Category: pick(r, domain.ProblemPolicy, domain.ProblemHealth, "x"),
					HandlingClass: pick(r, domain.HandlingImmediate, domain.HandlingCoordinated, domain.HandlingLongTerm),
					Colour:        pick(r, domain.ColourRed, domain.ColourYellow, domain.ColourGreen), Urgency: pick(r, domain.UrgencyUrgent, domain.UrgencyOrdinary, "")})
			case 1:
				evs, err = p.Assign(m, cal, domain.AssignProblem{To: pick(r, "网格员小李", "社工小张", ""), Reason: pick(r, "", "r"),
					TimeLimit: pick(r, domain.Span{}, domain.WorkingDays(5), domain.Hours(24)), Sessions: pick(r, 0, 0, 3)})
			case 2:
				evs, err = p.ExtendDeadline(m, p.Due().Add(time.Duration(r.rng.IntN(96)-24)*time.Hour), pick(r, "", "r"))
			case 3:
				evs, err = p.NoteProgress(m, pol, pick(r, "", "n"), pick(r, domain.FollowPhone, domain.FollowHomeVisit, "x"))
			case 4:
				evs, err = p.Resolve(m, pick(r, "", "s"), nil)
			case 5:
				evs, err = p.RateSatisfaction(m, r.rng.IntN(8)-1, "")
			case 6:
				evs, err = p.Revisit(m, pol, domain.RevisitProblem{Held: r.rng.IntN(3) != 0, Method: pick(r, domain.FollowPhone, domain.FollowHomeVisit),
					Note: pick(r, "", "n"), Satisfaction: r.rng.IntN(7) - 1})
			case 7:
				evs, err = p.Reopen(m, pol, pick(r, "", "r"))
			case 8:
				evs, err = p.Close(m, pol, pick(r, "", "r"))
			case 9:
				evs, err = p.Reclassify(m, pol, pick(r, domain.HandlingImmediate, domain.HandlingLongTerm), pick(r, domain.ColourRed, domain.ColourGreen), domain.UrgencyOrdinary, pick(r, "", "r"))
			case 10, 11:
				for _, c := range p.Clocks() {
					d, ok, derr := pol.Deadline(cal, c)
					if derr != nil {
						t.Fatal(derr)
					}
					if ok {
						if stage, due := d.Pending(m.At); due {
							evs, err = p.RecordDeadlineAlert(m, d, stage, "督导老周")
							if err == nil && evs == nil {
								t.Fatal("pending alert reported as already recorded")
							}
						}
					}
				}
				if evs == nil && err == nil {
					continue
				}
			}
			before := p.Status()
			if !r.step(p, "problem", evs, err) && closed && op == 3 && domain.CodeOf(err) != "required" && domain.CodeOf(err) != "problem_not_open" && m.Actor != "" {
				t.Fatalf("seed %d: progress on a closed problem failed with %v", seed, err)
			}
			if closed && (op == 3 || op == 4 || op == 1) && err == nil {
				t.Fatalf("seed %d: closed problem accepted %T", seed, evs[0])
			}
			// Invariants.
			s := p.Status()
			res, hasRes := p.Resolution()
			switch {
			case p.Exists() != (s != ""):
				t.Fatalf("seed %d: exists=%v status=%q", seed, p.Exists(), s)
			case s != "" && s != domain.StatusOpen && s != domain.StatusInProgress && s != domain.StatusResolved && s != domain.StatusClosed:
				t.Fatalf("seed %d: illegal status %q", seed, s)
			case p.Satisfaction() < 0 || p.Satisfaction() > 5 || (p.Satisfaction() != 0 && !hasRes):
				t.Fatalf("seed %d: satisfaction %d with resolution %v", seed, p.Satisfaction(), hasRes)
			case s == domain.StatusResolved && (!hasRes || res.Summary == ""):
				t.Fatalf("seed %d: resolved without resolution", seed)
			case (s == domain.StatusOpen || s == domain.StatusInProgress) && hasRes:
				t.Fatalf("seed %d: open with a resolution", seed)
			case (s == domain.StatusResolved || s == domain.StatusClosed) && p.Clocks() != nil:
				t.Fatalf("seed %d: %s problem runs clocks", seed, s)
			case before == domain.StatusClosed && s != domain.StatusClosed && s != domain.StatusOpen:
				t.Fatalf("seed %d: closed → %s", seed, s)
			}
			// 001 §2.2.2: a resolved problem closes only after an
			// independent return visit found it held, the household satisfied.
			if c, ok := p.Closure(); ok && c.Resolved && before == domain.StatusResolved && s == domain.StatusClosed {
				voiced := false
				for _, rv := range p.Revisits() {
					voiced = voiced || (rv.Independent && rv.Held && rv.Satisfaction >= pol.ReturnVisit.ReopenBelow && !rv.At.Before(res.At) && rv.By != res.By)
				}
				if !voiced {
					t.Fatalf("seed %d: closed without the household's voice: %+v", seed, p.Revisits())
				}
			}
			ext := p.Extensions()
			for i := 1; i < len(ext); i++ {
				if !ext[i].To.After(ext[i].From) {
					t.Fatalf("seed %d: extension not later", seed)
				}
			}
			closed = s == domain.StatusClosed
			if closed {
				if evs, err := p.NoteProgress(domain.Meta{Actor: "a", At: r.now}, pol, "n", domain.FollowPhone); domain.CodeOf(err) != "problem_not_open" || evs != nil {
					t.Fatalf("seed %d: closed problem accepts progress: %v", seed, err)
				}
			}
		}
		folded := domain.NewProblem("p")
		if err := domain.Fold(folded, r.recs, domain.AsOf{}); err != nil {
			t.Fatal(err)
		}
		if folded.Version() != p.Version() || folded.Status() != p.Status() || folded.Satisfaction() != p.Satisfaction() || !folded.Due().Equal(p.Due()) {
			t.Fatalf("seed %d: fold differs from live state", seed)
		}
	}
}

func TestPropertyReferral(t *testing.T) {
	cal := mustCalendar(t)
	pol := mustPolicy(t, domain.PresetDefault)
	legal := map[domain.ReferralStatus][]domain.ReferralStatus{
		"":                   {domain.RefRequested},
		domain.RefRequested:  {domain.RefAccepted, domain.RefDeclined, domain.RefCancelled, domain.RefRequested},
		domain.RefAccepted:   {domain.RefInProgress, domain.RefCancelled, domain.RefRequested},
		domain.RefDeclined:   {domain.RefRequested},
		domain.RefInProgress: {domain.RefCompleted, domain.RefCancelled, domain.RefRequested},
		domain.RefCompleted:  nil,
		domain.RefCancelled:  nil,
	}
	for seed := range uint64(propSequences) {
		r := newPropRun(t, seed)
		ref := domain.NewReferral("r")
		for range propSteps {
			m := r.meta()
			var evs []domain.Event
			var err error
			switch r.rng.IntN(9) {
			case 0:
				evs, err = ref.Request(m, pol, domain.RequestReferral{ProblemID: "p", HouseholdID: "h", Level: pick(r, domain.LevelCommunity, domain.LevelStreet, "x"), To: pick(r, "社区", ""), Request: "q"})
			case 1:
				evs, err = ref.Accept(m, cal, pick(r, "老陈", ""), pick(r, domain.WorkingDays(10), domain.Months(3), domain.Span{}), "")
			case 2:
				evs, err = ref.Decline(m, pick(r, "", "r"))
			case 3:
				evs, err = ref.Start(m, "")
			case 4:
				evs, err = ref.Complete(m, pick(r, "", "done"), nil)
			case 5:
				evs, err = ref.Cancel(m, pick(r, "", "r"))
			case 6, 7:
				evs, err = ref.Escalate(m, pol, pick(r, domain.LevelCommunity, domain.LevelStreet, domain.LevelDepartment), pick(r, "街道办", "住建局", ""), pick(r, "", "r"))
			case 8:
				for _, c := range ref.Clocks() {
					if d, ok, _ := pol.Deadline(cal, c); ok {
						if stage, due := d.Pending(m.At); due {
							evs, err = ref.RecordDeadlineAlert(m, d, stage, "")
						}
					}
				}
				if evs == nil && err == nil {
					continue
				}
			}
			before, level := ref.Status(), ref.Level()
			r.step(ref, "referral", evs, err)
			s := ref.Status()
			if s != before {
				ok := false
				for _, n := range legal[before] {
					ok = ok || n == s
				}
				if !ok {
					t.Fatalf("seed %d: illegal transition %q → %q", seed, before, s)
				}
			}
			if _, known := legal[s]; !known {
				t.Fatalf("seed %d: illegal state %q", seed, s)
			}
			if ((s == domain.RefAccepted || s == domain.RefInProgress) && ref.Responsible() == "") ||
				((s == domain.RefRequested || s == domain.RefDeclined) && ref.Responsible() != "") {
				t.Fatalf("seed %d: status %s with responsible %q", seed, s, ref.Responsible())
			}
			if _, done := ref.Outcome(); done != (s == domain.RefCompleted) {
				t.Fatalf("seed %d: outcome %v in %s", seed, done, s)
			}
			if before != "" && levelRank(ref.Level()) < levelRank(level) {
				t.Fatalf("seed %d: level went down %s → %s", seed, level, ref.Level())
			}
		}
		folded := domain.NewReferral("r")
		if err := domain.Fold(folded, r.recs, domain.AsOf{}); err != nil || folded.Status() != ref.Status() || folded.Level() != ref.Level() {
			t.Fatalf("seed %d: fold differs (%v)", seed, err)
		}
	}
}

func levelRank(l domain.ReferralLevel) int {
	return map[domain.ReferralLevel]int{domain.LevelCommunity: 1, domain.LevelStreet: 2, domain.LevelDepartment: 3}[l]
}

func TestPropertyHousehold(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	v := newVault()
	for seed := range uint64(propSequences) {
		r := newPropRun(t, seed)
		h := domain.NewHousehold("h")
		members := []string{"m1", "m2", "m3"}
		visits := 0
		for range propSteps {
			m := r.meta()
			var evs []domain.Event
			var err error
			switch r.rng.IntN(10) {
			case 0:
				evs, err = h.Register(m, pol, domain.RegisterHousehold{Address: "a", Community: "c", Grid: pick(r, "g", ""), ResponsibleWorker: "w",
					Class: pick(r, domain.ClassKey, domain.ClassSpecial, "x"), Risk: domain.RiskBlue})
			case 1:
				d := domain.MemberDetails{Name: pick(r, "王芳", ""), Relation: "本人"}
				if r.rng.IntN(2) == 0 {
					d.Phone = sealed(t, v, "h", "13800000000")
				}
				evs, err = h.AddMember(m, pick(r, members...), d)
			case 2:
				evs, err = h.RemoveMember(m, pick(r, members...), pick(r, "", "r"))
			case 3:
				evs, err = h.RecordConsent(m, r.rng.IntN(2) == 0, "", pick(r, "", "r"))
			case 4:
				evs, err = h.ChangeClass(m, pol, pick(r, domain.ClassOrdinary, domain.ClassKey, domain.ClassSpecial), pick(r, "", "r"))
			case 5:
				evs, err = h.ChangeRisk(m, pick(r, domain.RiskRed, domain.RiskGreen), "r")
			case 6, 7, 8:
				visits++
				evs, err = h.RecordVisit(m, pol, domain.RecordVisit{VisitID: pick(r, "v", "v"+string(rune('a'+visits%26))), Team: []string{"w"},
					OccurredAt: m.At.Add(-time.Duration(r.rng.IntN(48)) * time.Hour), Mode: domain.ModePhone,
					Outcome: pick(r, domain.OutcomeCompleted, domain.OutcomeRefused, domain.OutcomeNobodyHome)})
			case 9:
				if r.rng.IntN(4) == 0 {
					evs, err = h.Archive(m, domain.ArchiveDissolved, "")
				} else {
					continue
				}
			}
			consent, archived := h.Consent(), h.Archived()
			if r.step(h, "household", evs, err) {
				if archived {
					t.Fatalf("seed %d: archived household accepted %s", seed, evs[0].EventType())
				}
				if e, ok := evs[0].(domain.HouseholdMemberAdded); ok && !e.Phone.IsZero() && !consent {
					t.Fatalf("seed %d: sensitive data without consent", seed)
				}
				if e, ok := evs[0].(domain.VisitRecorded); ok && e.Late != (e.RecordedAt.Sub(e.OccurredAt) > 24*time.Hour) {
					t.Fatalf("seed %d: late flag %v for %s", seed, e.Late, e.RecordedAt.Sub(e.OccurredAt))
				}
			}
			seen := map[string]bool{}
			for _, mb := range h.Members() {
				if seen[mb.ID] || mb.Left {
					t.Fatalf("seed %d: member list broken", seed)
				}
				seen[mb.ID] = true
			}
			ids := map[string]bool{}
			for _, vr := range h.Visits() {
				if ids[vr.VisitID] {
					t.Fatalf("seed %d: duplicate visit %s", seed, vr.VisitID)
				}
				ids[vr.VisitID] = true
			}
		}
		folded := domain.NewHousehold("h")
		if err := domain.Fold(folded, r.recs, domain.AsOf{}); err != nil || folded.Version() != h.Version() || len(folded.Members()) != len(h.Members()) {
			t.Fatalf("seed %d: fold differs (%v)", seed, err)
		}
	}
}
