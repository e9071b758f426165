package command_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

func visit(t *testing.T, id, occurred string) command.Visit {
	return evidence(command.Visit{VisitID: id, Team: []string{"网格员小李", "网格员小王"}, OccurredAt: at(t, occurred), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})
}

func TestResentCommandTakesEffectOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	// No explicit time: the command's time comes from the clock, which moves
	// between the resends; it is not part of the command's content.
	e.clock.Set(at(t, "2026-03-02 12:00"))
	c := cmd(t, "visit-1", "网格员小李", "")
	first := ok(t)(e.svc.RecordVisit(ctx, c, "h1", visit(t, "v1", "2026-03-02 10:00")))
	if first.Replayed || first.Events != 1 || first.LastVersion != 3 || first.FirstVersion != 3 || first.LastPosition.IsZero() || first.CommandID != "visit-1" {
		t.Fatalf("first = %+v", first)
	}
	e.clock.Set(at(t, "2026-03-02 12:05"))
	again := ok(t)(e.svc.RecordVisit(ctx, c, "h1", visit(t, "v1", "2026-03-02 10:00")))
	if !again.Replayed || again.AppendResult != first.AppendResult || again.Events != 1 {
		t.Fatalf("resend = %+v, want the original %+v", again, first)
	}
	// Other commands in between do not change the answer, even after a restart.
	ok(t)(e.svc.ChangeRisk(ctx, cmd(t, "risk-1", "网格员小李", ""), "h1", domain.RiskRed, "独居且生病"))
	e.restart()
	afterRestart := ok(t)(e.svc.RecordVisit(ctx, c, "h1", visit(t, "v1", "2026-03-02 10:00")))
	if !afterRestart.Replayed || afterRestart.AppendResult != first.AppendResult {
		t.Fatalf("after restart = %+v, want %+v", afterRestart, first)
	}
	e.wantTypes(domain.HouseholdStream("h1"), tReg, tConsent, domain.TypeVisitRecorded, domain.TypeHouseholdRiskChanged)
	ev := e.stream(domain.HouseholdStream("h1"))[2]
	// The envelope says when the visit happened (10:00), not when it was
	// entered (12:00, the clock at the first send), and a resend at 12:05
	// changes nothing.
	if !ev.Metadata.OccurredAt.Equal(at(t, "2026-03-02 10:00")) {
		t.Fatalf("the envelope's occurred-at is the visit's time: %s", ev.Metadata.OccurredAt)
	}

	// The same command id with other content is refused, whatever differs.
	for name, f := range map[string]func() (command.Result, error){
		"other input": func() (command.Result, error) {
			return e.svc.RecordVisit(ctx, c, "h1", visit(t, "v2", "2026-03-02 10:00"))
		},
		"other command": func() (command.Result, error) {
			return e.svc.ChangeRisk(ctx, c, "h1", domain.RiskGreen, "好转")
		},
		"other actor": func() (command.Result, error) {
			c2 := c
			c2.Actor = "社工小张"
			return e.svc.RecordVisit(ctx, c2, "h1", visit(t, "v1", "2026-03-02 10:00"))
		},
		"explicit time": func() (command.Result, error) {
			c2 := c
			c2.At = at(t, "2026-03-02 12:00")
			return e.svc.RecordVisit(ctx, c2, "h1", visit(t, "v1", "2026-03-02 10:00"))
		},
	} {
		r, err := f()
		de := fails(t, r, err, "command_id_reused", domain.ErrConflict)
		if de.Field != "command_id" {
			t.Fatalf("%s: field %q", name, de.Field)
		}
	}
	if n := len(e.stream(domain.HouseholdStream("h1"))); n != 4 {
		t.Fatalf("stream has %d events, want 4", n)
	}
}

func TestResentSensitiveCommand(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	m := command.Member{Name: "李大姐", Relation: "本人", IDNumber: "110101197001010022", Phone: "13800138000"}
	c := cmd(t, "member-1", "网格员小李", "2026-03-02 09:30")
	first := ok(t)(e.svc.AddMember(ctx, c, "h1", "m1", m))
	again := ok(t)(e.svc.AddMember(ctx, c, "h1", "m1", m))
	if !again.Replayed || again.AppendResult != first.AppendResult {
		t.Fatalf("resend = %+v", again)
	}
	// Only a sensitive field differs: still recognised as other content.
	m.Phone = "13800138001"
	r, err := e.svc.AddMember(ctx, c, "h1", "m1", m)
	fails(t, r, err, "command_id_reused", domain.ErrConflict)
	// The event ids are not a plain hash of the sensitive values: another
	// key store gives other ids for the same command.
	ev := e.stream(domain.HouseholdStream("h1"))[2]
	if !strings.HasPrefix(ev.Metadata.KeyID, domain.MemberKeyPrefix) { // the member's own key (decision 0100)
		t.Fatalf("key id %q", ev.Metadata.KeyID)
	}
	other := newEnv(t)
	other.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	m.Phone = "13800138000"
	ok(t)(other.svc.AddMember(ctx, c, "h1", "m1", m))
	if id2 := other.stream(domain.HouseholdStream("h1"))[2].ID; id2 == ev.ID {
		t.Fatal("event id must depend on the household key, not only on the plaintext")
	}
}

// staleStore hides the newest events of one stream from the next read, as
// if the command had been loaded just before a copy of itself committed.
type staleStore struct {
	eventstore.Store
	mu   sync.Mutex
	hide map[string]int
}

func (s *staleStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.Event, error) {
	evs, err := s.Store.ReadStream(ctx, stream, dir, from, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.hide[stream]; n > 0 && err == nil && len(evs) >= n {
		delete(s.hide, stream)
		evs = evs[:len(evs)-n]
	}
	return evs, err
}

func TestStoreRecognisesResentBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	c := cmd(t, "visit-1", "网格员小李", "2026-03-02 12:00")
	first := ok(t)(e.svc.RecordVisit(ctx, c, "h1", visit(t, "v1", "2026-03-02 10:00")))
	stale := &staleStore{Store: e.store, hide: map[string]int{domain.HouseholdStream("h1"): 1}}
	svc, err := command.New(command.Config{Store: stale, Sealer: e.vault, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The service does not see its earlier append, decides again, appends
	// the same ids at a stale version: the store answers with the original.
	again := ok(t)(svc.RecordVisit(ctx, c, "h1", visit(t, "v1", "2026-03-02 10:00")))
	if again.AppendResult != first.AppendResult {
		t.Fatalf("resend = %+v, want %+v", again, first)
	}
	if n := len(e.stream(domain.HouseholdStream("h1"))); n != 3 {
		t.Fatalf("%d events", n)
	}
}

// conflictStore refuses every append with a conflict.
type conflictStore struct{ eventstore.Store }

func (s conflictStore) Append(_ context.Context, stream string, exp eventstore.ExpectedVersion, _ ...eventstore.EventData) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: exp, Actual: 99}
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t)
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	svc, err := command.New(command.Config{Store: conflictStore{e.store}, MaxAttempts: 3, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.ChangeRisk(context.Background(), cmd(t, "risk", "网格员小李", ""), "h1", domain.RiskRed, "生病")
	fails(t, r, err, "concurrent_update", domain.ErrConflict)
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) || ce.Actual != 99 {
		t.Fatalf("the last conflict is kept as the cause: %v", err)
	}
}

func TestTwentyRacersOnOneHousehold(t *testing.T) {
	e := newEnv(t, func(c *command.Config) { c.MaxAttempts = 40 })
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	const n = 20
	race := func(f func(i int) (command.Result, error)) ([]command.Result, []error) {
		res, errs := make([]command.Result, n), make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i], errs[i] = f(i)
			}()
		}
		close(start)
		wg.Wait()
		return res, errs
	}

	// 1. Twenty different visits: each wins one version, none is lost.
	res, errs := race(func(i int) (command.Result, error) {
		return e.svc.RecordVisit(ctx, cmd(t, fmt.Sprintf("visit-%d", i), "网格员小李", "2026-03-02 12:00"), "h1", visit(t, fmt.Sprintf("v%d", i), "2026-03-02 10:00"))
	})
	versions := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if res[i].Events != 1 || res[i].Replayed || versions[res[i].LastVersion] {
			t.Fatalf("racer %d: %+v (version taken twice?)", i, res[i])
		}
		versions[res[i].LastVersion] = true
	}
	evs := e.stream(domain.HouseholdStream("h1"))
	if len(evs) != 2+n {
		t.Fatalf("%d events, want %d", len(evs), 2+n)
	}
	for i, ev := range evs[2:] {
		if !versions[ev.Version] || ev.Type != domain.TypeVisitRecorded {
			t.Fatalf("event %d: version %d type %s not claimed by a racer", i, ev.Version, ev.Type)
		}
	}
	if got := len(e.household("h1").Visits()); got != n {
		t.Fatalf("%d visits", got)
	}

	// 2. Twenty racers want the same change: exactly one wins; the others
	// retry, see the fresh state, and get the domain's answer.
	res, errs = race(func(i int) (command.Result, error) {
		return e.svc.ChangeRisk(ctx, cmd(t, fmt.Sprintf("risk-%d", i), "网格员小李", "2026-03-02 13:00"), "h1", domain.RiskRed, "独居")
	})
	won := 0
	for i := range n {
		if errs[i] == nil {
			won++
			continue
		}
		fails(t, res[i], errs[i], "no_change", domain.ErrRule)
	}
	if won != 1 || e.household("h1").Risk() != domain.RiskRed {
		t.Fatalf("%d winners", won)
	}

	// 3. Twenty copies of one command: it takes effect once, all get its result.
	res, errs = race(func(int) (command.Result, error) {
		return e.svc.ChangeRisk(ctx, cmd(t, "risk-back", "网格员小李", "2026-03-02 14:00"), "h1", domain.RiskBlue, "好转")
	})
	replayed := 0
	for i := range n {
		if errs[i] != nil || res[i].AppendResult != res[0].AppendResult {
			t.Fatalf("copy %d: %+v %v", i, res[i], errs[i])
		}
		if res[i].Replayed {
			replayed++
		}
	}
	// The winner appended; copies that loaded after it committed were
	// recognised by the service, the others by the store (see Result.Replayed).
	if replayed > n-1 {
		t.Fatalf("%d replayed: the winner cannot be one", replayed)
	}
	e.wantTypes(domain.HouseholdStream("h1"), append(append([]string{tReg, tConsent}, slices.Repeat([]string{domain.TypeVisitRecorded}, n)...),
		domain.TypeHouseholdRiskChanged, domain.TypeHouseholdRiskChanged)...)
	if _, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil {
		t.Fatal(err)
	}
}

func TestProblemNumbersUniqueAndGapTolerant(t *testing.T) {
	e := newEnv(t, func(c *command.Config) { c.MaxAttempts = 40 })
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-01-01 09:00")
	report := func(id, when string) (command.Result, error) {
		return e.svc.ReportProblem(ctx, cmd(t, id, "网格员小李", when), command.ReportProblem{HouseholdID: "h1", Description: "d",
			Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary})
	}
	const workers, each = 8, 5
	var mu sync.Mutex
	numbers := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := report(fmt.Sprintf("p-%d-%d", w, i), "2026-05-01 10:00")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := numbers[r.Number]; dup {
					t.Errorf("number %s given to %s and %s", r.Number, prev, r.ID)
				}
				numbers[r.Number] = r.ID
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got := make([]string, 0, len(numbers))
	for n, id := range numbers {
		got = append(got, n)
		if p := e.problem(id); p.Number() != n {
			t.Fatalf("problem %s has number %s, result said %s", id, p.Number(), n)
		}
	}
	sort.Strings(got)
	for i, n := range got {
		if want := fmt.Sprintf("WT2026%06d", i+1); n != want {
			t.Fatalf("number %d is %s, want %s (no failures, so no gaps)", i, n, want)
		}
	}
	// A resent report keeps its number; a refused report burns none.
	r := ok(t)(report("p-0-0", "2026-05-01 10:00"))
	if !r.Replayed || numbers[r.Number] != r.ID {
		t.Fatalf("resent report: %+v", r)
	}
	bad, err := e.svc.ReportProblem(ctx, cmd(t, "bad", "网格员小李", "2026-05-01 10:00"), command.ReportProblem{HouseholdID: "h1", Description: "d",
		Category: "weather", HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary})
	fails(t, bad, err, "invalid_category", domain.ErrInvalid)
	if r := ok(t)(report("next", "2026-05-01 11:00")); r.Number != fmt.Sprintf("WT2026%06d", workers*each+1) {
		t.Fatalf("next number %s", r.Number)
	}
	// A problem reported twice under one id burns a number: a gap, never a duplicate.
	dupe := func(cid string) (command.Result, error) {
		return e.svc.ReportProblem(ctx, cmd(t, cid, "网格员小李", "2026-05-01 12:00"), command.ReportProblem{ProblemID: "same", HouseholdID: "h1",
			Description: "d", Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary})
	}
	ok(t)(dupe("dupe-1"))
	r2, err := dupe("dupe-2")
	fails(t, r2, err, "problem_exists", domain.ErrConflict)
	// Numbers are per year, in the community's time zone: 2026-12-31 23:30
	// in Shanghai is still 2026, 2027-01-01 00:30 is 2027.
	ok(t)(e.svc.RegisterHousehold(ctx, cmd(t, "reg-late", "x", "2026-12-31 23:00"), "late", domain.RegisterHousehold{Address: "a", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}))
	if r := ok(t)(report("eve", "2026-12-31 23:30")); r.Number[:6] != "WT2026" {
		t.Fatalf("eve %s", r.Number)
	}
	if r := ok(t)(report("newyear", "2027-01-01 00:30")); r.Number != "WT2027000001" {
		t.Fatalf("new year %s", r.Number)
	}
}

func TestEnvelopeMetadata(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	c := command.Cmd{ID: "m-1", Actor: "网格员小李", Role: domain.RoleGridWorker, At: at(t, "2026-03-02 10:00"), CorrelationID: "req-7", CausationID: "evt-3"}
	ok(t)(e.svc.AddMember(ctx, c, "h1", "m1", command.Member{Name: "李", Relation: "本人", Health: "高血压"}))
	p := ok(t)(e.svc.ReportProblem(ctx, cmd(t, "p-1", "社工小张", "2026-03-02 11:00"), command.ReportProblem{HouseholdID: "h1", Description: "d",
		Category: domain.ProblemHealth, HandlingClass: domain.HandlingImmediate, Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent}))
	ok(t)(e.svc.Relocate(ctx, cmd(t, "move", "网格员小李", "2026-03-03 09:00"), "h1", "新地址 1 号", "和平社区", "第1网格", "搬家"))

	hh := e.stream(domain.HouseholdStream("h1"))
	m := hh[2].Metadata
	if m.Actor != "网格员小李" || m.Role != domain.RoleGridWorker || m.CommandID != "m-1" || m.CorrelationID != "req-7" || m.CausationID != "evt-3" ||
		m.Community != "幸福社区" || m.Grid != "第3网格" || m.KeyID == "" || !m.OccurredAt.Equal(c.At) {
		t.Fatalf("member metadata %+v", m)
	}
	if hh[0].Metadata.KeyID != "" || hh[0].Metadata.CorrelationID != "reg-h1" || hh[0].Metadata.CausationID != "reg-h1" {
		t.Fatalf("register metadata %+v", hh[0].Metadata)
	}
	if want := uuid.NewSHA1(uuid.Nil, nil); hh[2].ID == want || hh[2].ID.Version() != 5 {
		t.Fatalf("event id %s is not derived (v5)", hh[2].ID)
	}
	if mv := hh[3].Metadata; mv.Community != "和平社区" || mv.Grid != "第1网格" {
		t.Fatalf("relocation carries the new scope: %+v", mv)
	}
	pe := e.stream(domain.ProblemStream(p.ID))[0].Metadata
	if pe.Community != "幸福社区" || pe.Grid != "第3网格" || pe.Actor != "社工小张" || pe.KeyID != "" {
		t.Fatalf("problem metadata %+v", pe)
	}
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "n-1", "社工小张", "2026-03-02 12:00"), p.ID, "已联系", domain.FollowPhone))
	// Written after the household moved: the problem's scope is its
	// household's current one, not inherited from the report (issue 13,
	// item 3; this assertion expected 幸福社区 before, which was the leak).
	if pm := e.stream(domain.ProblemStream(p.ID))[1].Metadata; pm.Community != "和平社区" || pm.Grid != "第1网格" {
		t.Fatalf("a problem event written after the move carries the household's new scope: %+v", pm)
	}
}

func TestCommandLayerRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rp := command.ReportProblem{HouseholdID: "ghost", Description: "d", Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}
	r, err := e.svc.ReportProblem(ctx, cmd(t, "p", "x", ""), rp)
	fails(t, r, err, "household_not_found", domain.ErrNotFound)
	r, err = e.svc.RequestReferral(ctx, cmd(t, "r", "x", ""), command.RequestReferral{ProblemID: "nope", Level: domain.LevelCommunity, To: "居委会", Request: "帮忙"})
	fails(t, r, err, "problem_not_found", domain.ErrNotFound)
	r, err = e.svc.NoteProgress(ctx, cmd(t, "n", "x", ""), "nope", "note", domain.FollowPhone)
	fails(t, r, err, "problem_not_found", domain.ErrNotFound)
	r, err = e.svc.ChangeRisk(ctx, cmd(t, "risk", "", ""), "h1", domain.RiskRed, "x")
	fails(t, r, err, "required", domain.ErrInvalid)

	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	p := ok(t)(e.svc.ReportProblem(ctx, cmd(t, "p1", "x", ""), command.ReportProblem{HouseholdID: "h1", Description: "d", Category: domain.ProblemService,
		HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}))
	r, err = e.svc.RequestReferral(ctx, cmd(t, "r1", "x", ""), command.RequestReferral{ProblemID: p.ID, HouseholdID: "h2", Level: domain.LevelCommunity, To: "居委会", Request: "帮忙"})
	fails(t, r, err, "household_mismatch", domain.ErrInvalid)

	// Without a key store, sensitive fields are refused and nothing is stored.
	plain, err := command.New(command.Config{Store: e.store, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err = plain.AddMember(ctx, cmd(t, "m", "x", ""), "h1", "m1", command.Member{Name: "李", Relation: "本人", Phone: "13800138000"})
	de := fails(t, r, err, "sealer_unavailable", domain.ErrRule)
	if strings.Contains(de.Error(), "13800138000") || strings.Contains(de.MessageZH, "13800138000") {
		t.Fatal("error leaks the phone number")
	}
	// Without consent, sensitive fields are refused by the domain.
	e.register("h3", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	ok(t)(e.svc.RecordConsent(ctx, cmd(t, "withdraw", "x", ""), "h3", false, "", "本人要求"))
	r, err = e.svc.AddMember(ctx, cmd(t, "m3", "x", ""), "h3", "m1", command.Member{Name: "李", Relation: "本人", Phone: "13800138000"})
	fails(t, r, err, "consent_required", domain.ErrRule)
	if _, err := command.New(command.Config{}); err == nil {
		t.Fatal("a config without a store must be refused")
	}
	r, err = e.svc.ChangeRisk(ctx, command.Cmd{ID: string(make([]byte, 201)), Actor: "x"}, "h1", domain.RiskRed, "x")
	fails(t, r, err, "invalid_command_id", domain.ErrInvalid)
	// A command without an id gets one and still works.
	r = ok(t)(e.svc.ChangeRisk(ctx, command.Cmd{Actor: "x"}, "h1", domain.RiskRed, "x"))
	if _, err := uuid.Parse(r.CommandID); err != nil || r.Events != 1 {
		t.Fatalf("generated command id %q: %v", r.CommandID, err)
	}
}

func TestDeadlineAlertsThroughService(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassSpecial, domain.RiskBlue, "2026-03-02 09:00")
	h := e.household("h1")
	d, okd, err := e.svc.Policies().Deadline(e.svc.Calendar(), h.Clocks()[0])
	if err != nil || !okd {
		t.Fatal(err)
	}
	// The watcher uses one deterministic command id per alert: two nodes
	// (or a restart) record it once.
	id := fmt.Sprintf("alert/%s/%s/%d/%s", domain.HouseholdStream("h1"), d.Kind, d.Start.Unix(), domain.StageBreached)
	sys := command.Cmd{ID: id, Actor: "deadline-watcher", Role: domain.RoleSystem, At: d.Due.Add(time.Minute)}
	r1 := ok(t)(e.svc.RecordDeadlineAlert(ctx, sys, domain.HouseholdStream("h1"), d, domain.StageBreached, "督导老周"))
	r2 := ok(t)(e.svc.RecordDeadlineAlert(ctx, sys, domain.HouseholdStream("h1"), d, domain.StageBreached, "督导老周"))
	if r1.Events != 1 || !r2.Replayed || r2.AppendResult != r1.AppendResult {
		t.Fatalf("alerts %+v %+v", r1, r2)
	}
	// A second watcher records the same alert later: the time of recording
	// is not part of the command's content, so it is the same command.
	later := sys
	later.At = sys.At.Add(time.Hour)
	if r := ok(t)(e.svc.RecordDeadlineAlert(ctx, later, domain.HouseholdStream("h1"), d, domain.StageBreached, "督导老周")); !r.Replayed || r.AppendResult != r1.AppendResult {
		t.Fatalf("a later copy of the alert: %+v", r)
	}
	// Another id for the same alert is a no-op by the domain's rule.
	sys.ID = "other"
	r3 := ok(t)(e.svc.RecordDeadlineAlert(ctx, sys, domain.HouseholdStream("h1"), d, domain.StageBreached, "督导老周"))
	if r3.Events != 0 || r3.LastVersion != r1.LastVersion || !r3.LastPosition.IsZero() {
		t.Fatalf("no-op alert %+v", r3)
	}
	e.wantTypes(domain.HouseholdStream("h1"), tReg, tConsent, domain.TypeHouseholdDeadlineBreached)
}

func TestLoadAsOf(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.clock.Set(at(t, "2026-03-02 09:00"))
	e.register("h1", domain.ClassOrdinary, domain.RiskGreen, "")
	steps := []struct {
		when string
		risk domain.RiskLevel
	}{{"2026-03-05 10:00", domain.RiskYellow}, {"2026-04-01 10:00", domain.RiskRed}, {"2026-05-01 10:00", domain.RiskBlue}}
	for i, s := range steps {
		e.clock.Set(at(t, s.when))
		ok(t)(e.svc.ChangeRisk(ctx, cmd(t, fmt.Sprintf("risk-%d", i), "网格员小李", ""), "h1", s.risk, "复核"))
	}
	for _, tt := range []struct {
		as      domain.AsOf
		version uint64
		risk    domain.RiskLevel
	}{
		{domain.UntilRecorded(at(t, "2026-03-01 00:00")), 0, ""},
		{domain.UntilRecorded(at(t, "2026-03-05 09:59")), 2, domain.RiskGreen},
		{domain.UntilRecorded(at(t, "2026-03-05 10:00")), 3, domain.RiskYellow},
		{domain.UntilRecorded(at(t, "2026-04-15 00:00")), 4, domain.RiskRed},
		{domain.UntilVersion(4), 4, domain.RiskRed},
		{domain.UntilVersion(99), 5, domain.RiskBlue},
		{domain.AsOf{}, 5, domain.RiskBlue},
	} {
		h := domain.NewHousehold("h1")
		if err := e.svc.Load(ctx, domain.HouseholdStream("h1"), h, tt.as); err != nil || h.Version() != tt.version || h.Risk() != tt.risk {
			t.Errorf("as of %+v: version %d risk %q, want %d %q (%v)", tt.as, h.Version(), h.Risk(), tt.version, tt.risk, err)
		}
	}
}

func TestLoadLongStream(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassOrdinary, domain.RiskGreen, "2026-03-02 09:00")
	// 2,400 more events written straight to the store, in batches.
	risks := []domain.RiskLevel{domain.RiskYellow, domain.RiskGreen}
	for b := range 3 {
		batch := make([]eventstore.EventData, 800)
		for i := range batch {
			n := b*800 + i
			d, err := eventlog.Encode(uuid.New(), domain.HouseholdRiskChanged{From: risks[(n+1)%2], To: risks[n%2], Reason: "复核", At: at(t, "2026-03-03 09:00"), By: "x"},
				eventstore.Metadata{Actor: "x"})
			if err != nil {
				t.Fatal(err)
			}
			batch[i] = d
		}
		if _, err := e.store.Append(ctx, domain.HouseholdStream("h1"), eventstore.Any(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	h := e.household("h1")
	if h.Version() != 2402 || h.Risk() != domain.RiskGreen {
		t.Fatalf("version %d risk %s", h.Version(), h.Risk())
	}
	old, err := e.svc.Household(ctx, "h1", domain.UntilVersion(1203))
	if err != nil || old.Version() != 1203 || old.Risk() != domain.RiskYellow {
		t.Fatalf("as of 1203: %d %s %v", old.Version(), old.Risk(), err)
	}
	// Commands still decide on the whole stream.
	r := ok(t)(e.svc.ChangeRisk(ctx, cmd(t, "after", "x", "2026-03-04 09:00"), "h1", domain.RiskRed, "复核"))
	if r.LastVersion != 2403 {
		t.Fatalf("appended at %d", r.LastVersion)
	}
}

func TestResentCreateAfterStateMovedOn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	rp := command.ReportProblem{HouseholdID: "h1", Description: "d", Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated,
		Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}
	pc := cmd(t, "report", "网格员小李", "2026-03-02 10:00")
	p := ok(t)(e.svc.ReportProblem(ctx, pc, rp))
	rr := command.RequestReferral{ProblemID: p.ID, Level: domain.LevelCommunity, To: "居委会", Request: "帮忙"}
	rc := cmd(t, "refer", "网格员小李", "2026-03-02 11:00")
	ref := ok(t)(e.svc.RequestReferral(ctx, rc, rr))
	if r := e.referral(ref.ID); r.HouseholdID() != "h1" || r.ProblemID() != p.ID {
		t.Fatalf("referral household %q problem %q", r.HouseholdID(), r.ProblemID())
	}
	ok(t)(e.svc.Archive(ctx, cmd(t, "archive", "网格员小李", "2026-03-03 10:00"), "h1", domain.ArchiveMovedAway, ""))
	// The household is archived now, yet the resends get their original results.
	p2 := ok(t)(e.svc.ReportProblem(ctx, pc, rp))
	ref2 := ok(t)(e.svc.RequestReferral(ctx, rc, rr))
	if !p2.Replayed || p2.AppendResult != p.AppendResult || p2.Number != p.Number || p2.ID != p.ID || !ref2.Replayed || ref2.AppendResult != ref.AppendResult {
		t.Fatalf("resends: %+v %+v", p2, ref2)
	}
	// A new report on the archived household is refused, burning no number.
	r, err := e.svc.ReportProblem(ctx, cmd(t, "report-2", "网格员小李", "2026-03-04 10:00"), rp)
	fails(t, r, err, "household_archived", domain.ErrRule)
	if n := len(e.stream(command.CounterStream(2026))); n != 1 {
		t.Fatalf("counter has %d events", n)
	}
}
