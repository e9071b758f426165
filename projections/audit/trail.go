package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

type storeReader interface {
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.Event, error)
}

// Change is one field's value before and after an event.
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Entry is one event of a trail.
type Entry struct {
	Position   eventstore.Position `json:"position"`
	EventID    string              `json:"event_id"`
	Stream     string              `json:"stream"`
	Version    uint64              `json:"version"`
	Type       string              `json:"type"`
	OccurredAt time.Time           `json:"occurred_at"`
	RecordedAt time.Time           `json:"recorded_at"`
	Actor      string              `json:"actor"`
	Role       string              `json:"role"`
	Changes    []Change            `json:"changes"`
	// Summary says what happened in words a supervisor reads — who (and in
	// which role), what, the outcome — in English, " / ", then Chinese.
	Summary string `json:"summary"`
	Reason  string `json:"reason,omitempty"` // the why: reason, note, summary or outcome the event carries
}

func (t *Trail) read(ctx context.Context, stream string) ([]eventstore.Event, error) {
	var out []eventstore.Event
	var from uint64 = 1
	for {
		page, err := t.store.ReadStream(ctx, stream, eventstore.Forward, from, 1000)
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", stream, err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		from += uint64(len(page))
	}
}

func newAggregate(stream string) (domain.Aggregate, func() map[string]string) {
	id := streamID(stream)
	switch eventstore.Category(stream) {
	case "household":
		h := domain.NewHousehold(id)
		return h, func() map[string]string { return householdState(h) }
	case "problem":
		p := domain.NewProblem(id)
		return p, func() map[string]string { return problemState(p) }
	case "referral":
		r := domain.NewReferral(id)
		return r, func() map[string]string { return referralState(r) }
	}
	return nil, nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func householdState(h *domain.Household) map[string]string {
	m := map[string]string{
		"address": h.Address(), "community": h.Community(), "grid": h.Grid(), "responsible_worker": h.ResponsibleWorker(),
		"class": string(h.Class()), "category": string(h.Category()), "risk": string(h.Risk()),
		"consent": strconv.FormatBool(h.Consent()), "archived": strconv.FormatBool(h.Archived()),
		"last_completed_visit": ts(h.LastCompletedVisit()), "visits": strconv.Itoa(len(h.Visits())),
		"volunteer": strconv.FormatBool(h.Volunteer()), "skills": strings.Join(h.Skills(), ","), "idle_resources": strings.Join(h.IdleResources(), ","),
	}
	needs := h.Needs()
	for _, d := range []domain.NeedDomain{domain.NeedElderlyCare, domain.NeedMedical, domain.NeedEducation, domain.NeedEmployment, domain.NeedCulture} {
		m["needs."+string(d)] = strings.Join(needs[d], ",")
	}
	for _, mem := range h.Members() {
		p := "member." + mem.ID + "."
		m[p+"name"], m[p+"relation"], m[p+"birth_date"], m[p+"occupation"] = mem.Name, mem.Relation, mem.BirthDate, mem.Occupation
		for f, s := range map[string]domain.Sealed{"id_number": mem.IDNumber, "phone": mem.Phone, "income": mem.Income, "health": mem.Health, "disability": mem.Disability} {
			if !s.IsZero() {
				// Sealed values are compared by ciphertext, shown only as "[sealed]".
				m[p+f] = "[sealed]" + string(s.Ciphertext)
			}
		}
	}
	for _, c := range h.Clocks() {
		m["alert."+string(c.Kind)] = alertState(c)
	}
	for _, v := range h.Visits() {
		m["visit."+v.VisitID] = visitState(v)
	}
	// A member's own consent per purpose (decision 0112): given or
	// withdrawn, so a withdrawal shows as a change, not only in the summary.
	for _, c := range h.MemberConsentHistory() {
		if given, own := h.MemberConsent(c.MemberID, c.Purpose); own {
			m["consent."+c.MemberID+"."+string(c.Purpose)] = map[bool]string{true: "given / 已同意", false: "withdrawn / 已撤回"}[given]
		}
	}
	return m
}

func alertState(c domain.Clock) string {
	switch {
	case c.Breached:
		return "breached"
	case c.Approached:
		return "approaching"
	}
	return ""
}

func problemState(p *domain.Problem) map[string]string {
	m := map[string]string{
		"number": p.Number(), "household_id": p.HouseholdID(), "description": p.Description(), "category": string(p.Category()),
		"handling_class": string(p.HandlingClass()), "colour": string(p.Colour()), "urgency": string(p.Urgency()),
		"assignee": p.Assignee(), "status": string(p.Status()), "time_limit": p.TimeLimit().String(), "due": dueText(p.Due(), p.DueBasis()),
		"satisfaction": "", "reopens": strconv.Itoa(p.Reopens()), "progress_notes": strconv.Itoa(len(p.Notes())),
	}
	if p.Sessions() > 0 {
		m["sessions"] = strconv.Itoa(p.Sessions())
	}
	if s := p.Satisfaction(); s > 0 {
		m["satisfaction"] = strconv.Itoa(s)
	}
	if r, ok := p.Resolution(); ok {
		m["resolution"] = r.Summary
		var res []string
		for _, x := range r.Resources {
			res = append(res, string(x.Kind)+":"+x.Description)
		}
		m["resources"] = strings.Join(res, "; ")
	}
	for _, c := range p.Clocks() {
		m["alert."+string(c.Kind)] = alertState(c)
	}
	return m
}

func referralState(r *domain.Referral) map[string]string {
	m := map[string]string{
		"problem_id": r.ProblemID(), "level": string(r.Level()), "to": r.To(), "status": string(r.Status()),
		"responsible": r.Responsible(), "decline_reason": r.DeclineReason(), "cancel_reason": r.CancelReason(),
	}
	if a, ok := r.Acceptance(); ok {
		m["due"] = dueText(a.Due, a.Calendar)
	}
	if o, ok := r.Outcome(); ok {
		m["outcome"] = o.Outcome
	}
	for _, c := range r.Clocks() {
		m["alert."+string(c.Kind)] = alertState(c)
	}
	return m
}

// dueText shows a due instant, with the bilingual note of a provisional
// basis: "2027-01-04T15:59:59Z (provisional: the 2027 holiday calendar is
// not yet loaded / 暂定：2027年节假日安排尚未导入)".
func dueText(due time.Time, b domain.CalendarBasis) string {
	if due.IsZero() {
		return ""
	}
	return ts(due) + provisionalNote(b)
}

// provisionalNote is " (English note / Chinese note)" for a provisional
// basis, "" otherwise.
func provisionalNote(b domain.CalendarBasis) string {
	en, zh := b.Note()
	if en == "" {
		return ""
	}
	return " (" + en + " / " + zh + ")"
}

// alertOf returns the payload of a deadline alert event.
func alertOf(ev domain.Event) (a domain.DeadlineAlert, stage domain.AlertStage, ok bool) {
	switch e := ev.(type) {
	case domain.HouseholdDeadlineApproaching:
		return e.DeadlineAlert, domain.StageApproaching, true
	case domain.ProblemDeadlineApproaching:
		return e.DeadlineAlert, domain.StageApproaching, true
	case domain.ReferralDeadlineApproaching:
		return e.DeadlineAlert, domain.StageApproaching, true
	case domain.HouseholdDeadlineBreached:
		return e.DeadlineAlert, domain.StageBreached, true
	case domain.ProblemDeadlineBreached:
		return e.DeadlineAlert, domain.StageBreached, true
	case domain.ReferralDeadlineBreached:
		return e.DeadlineAlert, domain.StageBreached, true
	}
	return a, "", false
}

// rescheduledOf returns the payload of a …deadline_rescheduled event.
func rescheduledOf(ev domain.Event) (domain.DeadlineRescheduled, bool) {
	switch e := ev.(type) {
	case domain.HouseholdDeadlineRescheduled:
		return e.DeadlineRescheduled, true
	case domain.ProblemDeadlineRescheduled:
		return e.DeadlineRescheduled, true
	case domain.ReferralDeadlineRescheduled:
		return e.DeadlineRescheduled, true
	}
	return domain.DeadlineRescheduled{}, false
}

// describe completes the changes of the deadline events whose state
// summary does not tell the whole story: an alert on a provisional
// deadline says so (the state only knows "breached"), and a rescheduling
// shows the deadline's move (for clocks the state has no due for) and
// explains it in the reason, in English and Chinese. Others are returned
// as they are.
func describe(ev domain.Event, before map[string]string, changes []Change, why string) ([]Change, string) {
	if a, stage, ok := alertOf(ev); ok && a.Calendar.IsProvisional() {
		en, zh := a.Calendar.Note()
		note := fmt.Sprintf(" (due %s; %s / %s)", ts(a.Due), en, zh)
		field := "alert." + string(a.Kind)
		for i := range changes {
			if changes[i].Field == field {
				changes[i].After += note
				return changes, why
			}
		}
		changes = append(changes, Change{Field: field, Before: before[field], After: string(stage) + note})
		slices.SortFunc(changes, func(x, y Change) int { return strings.Compare(x.Field, y.Field) })
		return changes, why
	}
	if e, ok := rescheduledOf(ev); ok {
		shown := slices.ContainsFunc(changes, func(c Change) bool {
			return c.Field == "due" && (e.Kind == domain.ClockProblemResolution || e.Kind == domain.ClockReferralCompletion)
		})
		if !shown {
			changes = append(changes, Change{Field: "deadline." + string(e.Kind), Before: dueText(e.OldDue, e.OldBasis), After: dueText(e.NewDue, e.Calendar)})
			slices.SortFunc(changes, func(x, y Change) int { return strings.Compare(x.Field, y.Field) })
		}
		return changes, rescheduledText(e)
	}
	return changes, why
}

// rescheduledText explains a rescheduling in English and Chinese, e.g.
// "deadline rescheduled from … to … after the 2027 calendar was
// published; breach withdrawn / 因2027年节假日安排发布，期限由 … 调整为 …；撤销逾期".
func rescheduledText(e domain.DeadlineRescheduled) string {
	var published []string
	for _, y := range e.OldBasis.Provisional {
		if !slices.Contains(e.Calendar.Provisional, y) {
			published = append(published, strconv.Itoa(y))
		}
	}
	from, to := ts(e.OldDue), ts(e.NewDue)
	en := fmt.Sprintf("deadline rescheduled from %s to %s", from, to)
	zh := fmt.Sprintf("期限由 %s 调整为 %s", from, to)
	switch {
	case e.Reason == domain.ReasonCalendarPublished && len(published) == 1:
		en += fmt.Sprintf(" after the %s calendar was published", published[0])
		zh = fmt.Sprintf("因%s年节假日安排发布，", published[0]) + zh
	case e.Reason == domain.ReasonCalendarPublished && len(published) > 1:
		en += fmt.Sprintf(" after the %s and %s calendars were published", strings.Join(published[:len(published)-1], ", "), published[len(published)-1])
		zh = fmt.Sprintf("因%s年节假日安排发布，", strings.Join(published, "、")) + zh
	case e.Reason == domain.ReasonCalendarPublished:
		en += fmt.Sprintf(" after the working-day calendar was corrected (version %s)", e.Calendar.Version)
		zh = fmt.Sprintf("因工作日历更正（版本 %s），", e.Calendar.Version) + zh
	default:
		en += fmt.Sprintf(" (%s, calendar version %s)", e.Reason, e.Calendar.Version)
		zh += fmt.Sprintf("（%s，日历版本 %s）", e.Reason, e.Calendar.Version)
	}
	if pen, pzh := e.Calendar.Note(); pen != "" {
		en += "; still " + pen
		zh += "；仍为" + pzh
	}
	var wen, wzh []string
	for _, st := range e.Withdrawn {
		switch st {
		case domain.StageBreached:
			wen, wzh = append(wen, "breach"), append(wzh, "逾期")
		case domain.StageApproaching:
			wen, wzh = append(wen, "approaching warning"), append(wzh, "临近提醒")
		}
	}
	if len(wen) > 0 {
		en += "; " + strings.Join(wen, " and ") + " withdrawn"
		zh += "；撤销" + strings.Join(wzh, "和")
	}
	return en + " / " + zh
}

func diff(before, after map[string]string) []Change {
	keys := map[string]struct{}{}
	for k := range before {
		keys[k] = struct{}{}
	}
	for k := range after {
		keys[k] = struct{}{}
	}
	var out []Change
	for k := range keys {
		b, a := before[k], after[k]
		if a == b {
			continue
		}
		out = append(out, Change{Field: k, Before: shown(b), After: shown(a)})
	}
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Field, y.Field) })
	return out
}

func shown(v string) string {
	if strings.HasPrefix(v, "[sealed]") {
		return "[sealed]"
	}
	return v
}

// reason extracts the why an event carries.
func reason(data []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	for _, k := range []string{"reason", "note", "summary", "outcome", "comment"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// entries returns an entry per event of one stream: those described
// before from the cache when the stream has not grown since, else folded
// anew. The caller owns the slice and its changes.
func (t *Trail) entries(ctx context.Context, stream string) ([]Entry, error) {
	if es, ok := t.cache.get(stream); ok && len(es) > 0 {
		next, err := t.store.ReadStream(ctx, stream, eventstore.Forward, es[len(es)-1].Version+1, 1)
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", stream, err)
		}
		if len(next) == 0 {
			return cloneEntries(es), nil
		}
	}
	es, err := t.fold(ctx, stream)
	if err != nil {
		return nil, err
	}
	t.cache.put(stream, es)
	return cloneEntries(es), nil
}

// cloneEntries copies entries and their changes, so that what the caller
// writes (the erased marks, the opened text) never reaches the cache.
func cloneEntries(es []Entry) []Entry {
	out := slices.Clone(es)
	for i := range out {
		out[i].Changes = slices.Clone(out[i].Changes)
	}
	return out
}

// fold folds one stream, producing an entry per event.
func (t *Trail) fold(ctx context.Context, stream string) ([]Entry, error) {
	evs, err := t.read(ctx, stream)
	if err != nil {
		return nil, err
	}
	agg, state := newAggregate(stream)
	if agg == nil {
		return nil, fmt.Errorf("audit: %s is not a household, problem or referral stream", stream)
	}
	out := make([]Entry, 0, len(evs))
	before := state()
	for i := range evs {
		e := &evs[i]
		ev, err := eventlog.Step(t.reg, agg, e)
		if err != nil {
			return nil, err
		}
		after := state()
		changes, why := describe(ev, before, diff(before, after), reason(e.Data))
		out = append(out, Entry{Position: e.Position, EventID: e.ID.String(), Stream: e.Stream, Version: e.Version, Type: e.Type,
			OccurredAt: e.Metadata.OccurredAt, RecordedAt: e.RecordedAt, Actor: e.Metadata.Actor, Role: e.Metadata.Role,
			Changes: changes, Reason: why, Summary: summarize(e.Type, e.Metadata.Actor, e.Metadata.Role, ev)})
		before = after
	}
	return out, nil
}

func (t *Trail) merged(ctx context.Context, streams []string) ([]Entry, error) {
	var all []Entry
	for _, s := range streams {
		es, err := t.entries(ctx, s)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	slices.SortFunc(all, func(a, b Entry) int { return a.Position.Compare(b.Position) })
	return all, nil
}

// Household returns the trail of a household: its own events and those of
// its problems and referrals, in log order. ErrNotFound if the index does
// not know the household.
func (t *Trail) Household(ctx context.Context, householdID string) ([]Entry, error) {
	streams, err := t.streams(ctx, "household_id = ?", householdID)
	if err != nil {
		return nil, err
	}
	return t.merged(ctx, streams)
}

// Problem returns the trail of a problem and its referrals, in log order.
func (t *Trail) Problem(ctx context.Context, problemID string) ([]Entry, error) {
	streams, err := t.streams(ctx, "problem_id = ?", problemID)
	if err != nil {
		return nil, err
	}
	return t.merged(ctx, streams)
}

// Snapshot is a household's file as it was at an instant: the aggregates
// folded from the events recorded at or before it (domain.UntilRecorded).
// Read it through the aggregates' getters.
type Snapshot struct {
	At        time.Time
	Household *domain.Household
	Problems  []*domain.Problem  // those reported by then
	Referrals []*domain.Referral // those requested by then
}

// AsOf returns the household's file as the system knew it at instant at.
func (t *Trail) AsOf(ctx context.Context, householdID string, at time.Time) (*Snapshot, error) {
	streams, err := t.streams(ctx, "household_id = ?", householdID)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{At: at}
	for _, s := range streams {
		evs, err := t.read(ctx, s)
		if err != nil {
			return nil, err
		}
		agg, _ := newAggregate(s)
		if _, err := eventlog.Fold(t.reg, agg, evs, domain.UntilRecorded(at)); err != nil {
			return nil, err
		}
		switch a := agg.(type) {
		case *domain.Household:
			snap.Household = a
		case *domain.Problem:
			if a.Exists() {
				snap.Problems = append(snap.Problems, a)
			}
		case *domain.Referral:
			if a.Exists() {
				snap.Referrals = append(snap.Referrals, a)
			}
		}
	}
	if snap.Household == nil || !snap.Household.Registered() {
		return nil, fmt.Errorf("%w: household %s was not registered at %s / 该家庭在 %s 尚未登记", ErrNotFound, householdID, at.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	return snap, nil
}
