package http

import (
	"errors"
	"fmt"
	nethttp "net/http"
	"regexp"
	"slices"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections/flags"
	"github.com/doorstep/doorstep/projections/measures"
)

// RateView is a ratio: Value is present only when Den > 0.
type RateView struct {
	Num   int64    `json:"num"`
	Den   int64    `json:"den"`
	Value *float64 `json:"value,omitempty"`
}

func rateOf(r measures.Rate) RateView {
	out := RateView{Num: r.Num, Den: r.Den}
	if v, ok := r.Value(); ok {
		out.Value = &v
	}
	return out
}

// MeasureRow is the measures of one group in one month.
type MeasureRow struct {
	Group          string              `json:"group"`
	Month          string              `json:"month"`
	Counts         map[string]int64    `json:"counts"`
	ResolutionRate RateView            `json:"resolution_rate"`
	OnTime         map[string]RateView `json:"on_time"`
	Satisfaction   RateView            `json:"satisfaction"`
	Satisfied      RateView            `json:"satisfied"`
	ResourceDays   RateView            `json:"resource_days"`
	RecurrenceRate RateView            `json:"recurrence_rate"`
	VisitCoverage  RateView            `json:"visit_coverage"`
	LateEntryRate  RateView            `json:"late_entry_rate"`
	RefusalRate    RateView            `json:"refusal_rate"`
	ResolutionDays RateView            `json:"resolution_days"`
	// IneffectiveCommunicationRate: completed visits that recorded
	// communication ineffective, of the completed visits (沟通无效, 001
	// §6.2; decision 0145).
	IneffectiveCommunicationRate RateView `json:"ineffective_communication_rate"`
	// State is "closed" when the community's month is closed by a
	// measures.period_closed event (Closed then holds what the close
	// recorded, which never changes), else "open" (by=community only;
	// empty for grids and workers). With as_of, the closes are those the
	// log held at that instant ("not_closed" for a month not closed then).
	// The counters above are always live.
	State  string       `json:"state,omitempty"`
	Closed *ClosedMonth `json:"closed,omitempty"`
}

// ClosedMonth is what a month's close recorded for a community.
type ClosedMonth struct {
	ClosedAt          time.Time `json:"closed_at"`
	PolicyVersion     string    `json:"policy_version"`
	CalendarVersion   string    `json:"calendar_version"`
	Amended           bool      `json:"amended,omitempty"`
	Resolution        RateView  `json:"resolution"` // long-term problems excluded
	Coverage          RateView  `json:"coverage"`
	CoverageKeyGroups RateView  `json:"coverage_key_groups"`
	// The per-class targets of 001 §2.2.2 (decision 0117): immediate and
	// coordinated problems first responded to within their time limit, of
	// those whose limit ended in the month; long-term satisfaction.
	HandlingImmediate    RateView `json:"handling_immediate"`
	HandlingCoordinated  RateView `json:"handling_coordinated"`
	LongTermSatisfaction RateView `json:"long_term_satisfaction"`
	Refusals             RateView `json:"refusals"`
	// IneffectiveCommunication: 沟通无效 of the completed visits (decision 0145).
	IneffectiveCommunication RateView `json:"ineffective_communication"`
	// Flags are the measures flagged at the close; FlagDetails the same
	// flags with figure, target and messages in English and Chinese.
	Flags       []string     `json:"flags"`
	FlagDetails []ClosedFlag `json:"flag_details"`
}

func tallyRate(t domain.Tally) RateView { return rateOf(measures.Rate{Num: t.Num, Den: t.Den}) }

// Measures is the body of GET /v1/measures.
type Measures struct {
	By   string       `json:"by"`
	Rows []MeasureRow `json:"rows"`
}

// MeasureFlags is the body of GET /v1/measures/flags: the flags the period
// close recorded (measures.flag_raised), the latest period first.
type MeasureFlags struct {
	Flags  []MeasureFlag `json:"flags"`
	AsOf   *time.Time    `json:"as_of,omitempty"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
}

// MeasureFlag is one recorded flag: a measure of a community (or of a
// worker in it; the street when community is empty) that breached its
// target or threshold at a period's close.
type MeasureFlag struct {
	Community string `json:"community"`
	Period    string `json:"period"`
	ClosedFlag
	RaisedAt   time.Time `json:"raised_at"`
	RecordedAt time.Time `json:"recorded_at"`
}

func (s *Server) measureRoutes() []route {
	return []route{
		{op: "getMeasures", method: "GET", path: "/v1/measures", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}, summary: "resolution, on-time, satisfaction and coverage measures", h: s.getMeasures,
			doc: opDoc{tag: "measures", ok: 200, resp: "Measures", query: true, params: []param{
				qp("by", "string", "group by", "community", "grid", "worker"),
				qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "worker"),
				qp("from", "string", "first month, YYYY-MM"), qp("to", "string", "last month, YYYY-MM"),
				qp("as_of", "string", "RFC 3339 instant: the months' closes as the log held them then (the counters stay live)"),
			}}},
		{op: "getMeasureFlags", method: "GET", path: "/v1/measures/flags", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin},
			summary: "the flags recorded at period closes (a target or threshold breached, e.g. resolution below 80% two months running), latest first", h: s.getMeasureFlags,
			doc: opDoc{tag: "measures", ok: 200, resp: "MeasureFlags", query: true, params: []param{
				qp("community", "string", "community (default: every community in your scope)"),
				qp("period", "string", "the closed period the flag was raised at, e.g. 2026-06, 2026-Q2"),
				qp("measure", "string", "the measure, e.g. resolution.two_months"),
				qp("as_of", "string", "RFC 3339 instant: only the flags recorded by then"),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
	}
}

var monthRE = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

func (s *Server) getMeasures(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "by", "community", "grid", "worker", "from", "to", "as_of", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	asOf, err := asOfParam(q)
	if err != nil {
		return err
	}
	by, err := enumParam(q, "by", "分组方式", "community", "grid", "worker")
	if err != nil {
		return err
	}
	if by == "" {
		by = "community"
	}
	for _, m := range []string{"from", "to"} {
		if v := q.Get(m); v != "" && !monthRE.MatchString(v) {
			return newErr(ErrBadRequest, "invalid_month", m, fmt.Sprintf("%s %q is not a month; write YYYY-MM, e.g. 2026-03", m, clip(v)), fmt.Sprintf("%s %q 不是有效月份；请写成 YYYY-MM，例如 2026-03", m, clip(v)))
		}
	}
	if s.d.Read.Measures == nil {
		return noReadModel("measures")
	}
	p := principalFrom(r.Context())
	community, grid, err := scopeFilter(p, q.Get("community"), q.Get("grid"))
	if err != nil {
		return err
	}
	if err := s.waitFor(w, r, measures.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Measures.Measures(r.Context(), measures.Query{By: measures.GroupBy(by), Community: community, Grid: grid,
		Worker: q.Get("worker"), FromMonth: q.Get("from"), ToMonth: q.Get("to")})
	if errors.Is(err, measures.ErrInvalidQuery) {
		return newErr(ErrBadRequest, "invalid_query", "", err.Error(), err.Error())
	}
	if err != nil {
		return err
	}
	out := Measures{By: by, Rows: make([]MeasureRow, 0, len(rows))}
	ledgers := map[string]*domain.PeriodLedger{}
	for _, row := range rows {
		mr := MeasureRow{Group: row.Group, Month: row.Month, Counts: row.Counts, ResolutionRate: rateOf(row.ResolutionRate), OnTime: map[string]RateView{},
			Satisfaction: rateOf(row.Satisfaction), Satisfied: rateOf(row.Satisfied), ResourceDays: rateOf(row.ResourceDays),
			RecurrenceRate: rateOf(row.RecurrenceRate), VisitCoverage: rateOf(row.VisitCoverage), LateEntryRate: rateOf(row.LateEntryRate),
			RefusalRate: rateOf(row.RefusalRate), ResolutionDays: rateOf(row.ResolutionDays), IneffectiveCommunicationRate: rateOf(row.IneffectiveRate)}
		for k, v := range row.OnTime {
			mr.OnTime[k] = rateOf(v)
		}
		if mr.Counts == nil {
			mr.Counts = map[string]int64{}
		}
		if by == "community" && s.d.Store != nil {
			l, ok := ledgers[row.Group]
			if !ok {
				if l, err = periodclose.Ledger(r.Context(), s.d.Store, row.Group, asOf); err != nil {
					return err
				}
				ledgers[row.Group] = l
			}
			mr.State = "open"
			if !asOf.IsZero() {
				mr.State = "not_closed"
			}
			if p, ok := l.Period(row.Month); ok {
				f := p.Current()
				mr.State = "closed"
				mr.Closed = &ClosedMonth{ClosedAt: p.At, PolicyVersion: p.PolicyVersion, CalendarVersion: p.CalendarVersion, Amended: len(p.Amended) > 0,
					Resolution: tallyRate(f.Resolution), Coverage: tallyRate(f.Coverage), CoverageKeyGroups: tallyRate(f.CoverageKeyGroups),
					HandlingImmediate: tallyRate(f.HandlingImmediate), HandlingCoordinated: tallyRate(f.HandlingCoordinated),
					LongTermSatisfaction: tallyRate(f.LongTermSatisfaction), Refusals: tallyRate(f.Refusals),
					IneffectiveCommunication: tallyRate(f.IneffectiveCommunication), Flags: []string{}, FlagDetails: []ClosedFlag{}}
				for _, fl := range p.Flags {
					mr.Closed.Flags = append(mr.Closed.Flags, fl.Measure)
					mr.Closed.FlagDetails = append(mr.Closed.FlagDetails, ClosedFlag{Measure: fl.Measure, Worker: fl.Worker, Figure: fl.Figure, Target: fl.Target,
						Periods: fl.Periods, MessageEN: fl.MessageEN, MessageZH: fl.MessageZH})
				}
			}
		}
		out.Rows = append(out.Rows, mr)
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func (s *Server) getMeasureFlags(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "community", "period", "measure", "as_of", "limit", "offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	if s.d.Read.Flags == nil {
		return noReadModel("flags")
	}
	f := flags.Filter{Period: q.Get("period"), Measure: q.Get("measure")}
	var err error
	if f.AsOf, err = asOfParam(q); err != nil {
		return err
	}
	for _, v := range []struct{ name, value string }{{"period", f.Period}, {"measure", f.Measure}} {
		if len(v.value) > 64 {
			return newErr(ErrBadRequest, "invalid_"+v.name, v.name, fmt.Sprintf("%s is at most 64 characters", v.name),
				fmt.Sprintf("%s 最多 64 个字符", v.name))
		}
	}
	p := principalFrom(r.Context())
	switch c := q.Get("community"); {
	case c != "" && p.Role == identity.RoleSupervisor && !slices.Contains(p.Communities, c):
		return newErr(ErrForbidden, "out_of_scope", "community", fmt.Sprintf("community %s is outside your scope", clip(c)),
			fmt.Sprintf("社区 %s 不在您的权限范围内", clip(c)))
	case c != "":
		f.Communities = []string{c}
	case p.Role == identity.RoleSupervisor:
		f.Communities = p.Communities
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if f.Limit > flags.MaxLimit {
		return newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit is at most %d", flags.MaxLimit),
			fmt.Sprintf("每页最多 %d 条", flags.MaxLimit))
	}
	if err := s.waitFor(w, r, flags.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Flags.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := MeasureFlags{Flags: make([]MeasureFlag, 0, len(rows)), AsOf: optTime(f.AsOf), Limit: f.Limit, Offset: f.Offset}
	for _, fl := range rows {
		periods := fl.Periods
		if periods == nil {
			periods = []string{}
		}
		out.Flags = append(out.Flags, MeasureFlag{Community: fl.Community, Period: fl.Period, ClosedFlag: ClosedFlag{Measure: fl.Measure,
			Worker: fl.Worker, Figure: fl.Figure, Target: fl.Target, Periods: periods, MessageEN: fl.MessageEN, MessageZH: fl.MessageZH},
			RaisedAt: fl.RaisedAt, RecordedAt: fl.RecordedAt})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
