package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"net/url"
	"sort"
	"time"

	"github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/periodclose"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
)

// CoverageReader computes visit coverage for a period with the policy in
// force (*projections/coverage.Live provides it).
type CoverageReader interface {
	Report(ctx context.Context, label, community string) (*coverage.Report, error)
	Targets() domain.CoverageTargets
}

// Coverage is the body of GET /v1/measures/coverage: the share of households
// due in the period that were visited on schedule (001 §2.1, §4.3, §6.2).
type Coverage struct {
	Period string `json:"period"`
	// State is "closed" when a measures.period_closed event holds the
	// period (figures from it, or from its last amendment), "open" when it
	// is computed now from the log, "not_closed" when as_of asks for an
	// instant at which the period was not closed (no figures).
	State           string              `json:"state"`
	ClosedAt        *time.Time          `json:"closed_at,omitempty"`
	Amended         bool                `json:"amended,omitempty"`
	CalendarVersion string              `json:"calendar_version,omitempty"`
	Flags           []ClosedFlag        `json:"flags,omitempty"`
	PolicyVersion   string              `json:"policy_version"`
	Targets         CoverageTargetsView `json:"targets"`
	Street          CoverageFigures     `json:"street"`
	Communities     []CommunityCoverage `json:"communities"`

	// SpotChecks: in a closed period, the visits spot-checked of the
	// completed visits of the months inspected in it (decision 0141).
	SpotChecks *SpotCheckRate `json:"spot_checks,omitempty"`
}

// ClosedFlag is a flag raised at the period's close.
type ClosedFlag struct {
	Measure   string   `json:"measure"`
	Worker    string   `json:"worker,omitempty"` // a worker's measure (risk.worker_resolution)
	Figure    float64  `json:"figure"`
	Target    float64  `json:"target"`
	Periods   []string `json:"periods"`
	MessageEN string   `json:"message_en"`
	MessageZH string   `json:"message_zh"`
}

// CoverageTargetsView are the policy's targets, as shares.
type CoverageTargetsView struct {
	All       float64 `json:"all"`
	KeyGroups float64 `json:"key_groups"`
	RiskBelow float64 `json:"risk_below"`
}

// CoverageFigures are due and covered households, overall, per class and
// for 重点群体.
type CoverageFigures struct {
	All       CoverageCount            `json:"all"`
	ByClass   map[string]CoverageCount `json:"by_class"`
	KeyGroups CoverageCount            `json:"key_groups"`
}

// SpotCheckRate is the spot-check measure of a closed period (001 §3.4
// 抽查比例不低于走访总数的10%): completed visits, those checked and their
// share.
type SpotCheckRate struct {
	Visits  int64    `json:"visits"`
	Checked int64    `json:"checked"`
	Rate    *float64 `json:"rate,omitempty"`
}

// CoverageCount is due and covered households and their share.
type CoverageCount struct {
	Due     int64    `json:"due"`
	Covered int64    `json:"covered"`
	Rate    *float64 `json:"rate,omitempty"`
}

// CommunityCoverage is one community's coverage, the targets it missed and
// the households due and not visited (at most maxUncovered listed).
type CommunityCoverage struct {
	Community      string           `json:"community"`
	Figures        CoverageFigures  `json:"figures"`
	Breaches       []CoverageBreach `json:"breaches"`
	UncoveredTotal int              `json:"uncovered_total"`
	Uncovered      []string         `json:"uncovered"`
}

// CoverageBreach is a target or threshold not met, with a message in English and Chinese.
type CoverageBreach struct {
	Measure   string  `json:"measure"`
	Figure    float64 `json:"figure"`
	Target    float64 `json:"target"`
	MessageEN string  `json:"message_en"`
	MessageZH string  `json:"message_zh"`
}

const maxUncovered = 500

func countView(c coverage.Count) CoverageCount {
	v := CoverageCount{Due: c.Due, Covered: c.Covered}
	if r, ok := c.Rate(); ok {
		v.Rate = &r
	}
	return v
}

func figuresView(f coverage.Figures) CoverageFigures {
	v := CoverageFigures{All: countView(f.All), KeyGroups: countView(f.KeyGroups), ByClass: map[string]CoverageCount{}}
	for c, n := range f.ByClass {
		v.ByClass[string(c)] = countView(n)
	}
	return v
}

var breachLabels = map[string][2]string{
	"coverage.all":        {"household visit coverage", "走访覆盖率"},
	"coverage.key_groups": {"key group coverage", "重点群体覆盖率"},
	"coverage.risk":       {"household coverage (risk threshold)", "家庭覆盖率（风险阈值）"},
}

func (s *Server) coverageRoutes() []route {
	return []route{
		{op: "getCoverage", method: "GET", path: "/v1/measures/coverage", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin},
			summary: "household visit coverage of a period, by class and for key groups, against the policy's targets", h: s.getCoverage,
			doc: opDoc{tag: "measures", ok: 200, resp: "Coverage", query: true, params: []param{
				qp("period", "string", "the period: 2026-03 (month), 2026-Q1, 2026-H1, 2026 (year)"), qp("community", "string", "community"),
				qp("as_of", "string", "RFC 3339 instant: the closed period as the log held it then"),
			}}},
	}
}

func (s *Server) getCoverage(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "period", "community", "as_of", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	label := q.Get("period")
	if label == "" {
		return newErr(ErrBadRequest, "required", "period", "the period is required, e.g. period=2026-03", "缺少期间参数，例如 2026-03")
	}
	if per, _, _, err := domain.ParsePeriodLabel(label, time.UTC); err != nil || per == domain.PeriodWeek {
		return newErr(ErrBadRequest, "invalid_period", "period",
			fmt.Sprintf("period %q is not a month, quarter, half-year or year; write 2026-03, 2026-Q1, 2026-H1 or 2026", clip(label)),
			fmt.Sprintf("期间 %q 不是月、季度、半年或年；请写作 2026-03、2026-Q1、2026-H1 或 2026", clip(label)))
	}
	if s.d.Read.Coverage == nil {
		return noReadModel("coverage")
	}
	p := principalFrom(r.Context())
	community, _, err := scopeFilter(p, q.Get("community"), "")
	if err != nil {
		return err
	}
	asOf, err := asOfParam(q)
	if err != nil {
		return err
	}
	if s.d.Store != nil {
		l, err := periodclose.Ledger(r.Context(), s.d.Store, community, asOf)
		if err != nil {
			return err
		}
		if p, ok := l.Period(label); ok {
			return writeJSON(w, nethttp.StatusOK, closedView(p, community, s.d.Read.Coverage.Targets()))
		}
		if !asOf.IsZero() {
			return writeJSON(w, nethttp.StatusOK, Coverage{Period: label, State: "not_closed", Communities: []CommunityCoverage{}})
		}
	}
	if err := s.waitFor(w, r, pcoverage.Name); err != nil {
		return err
	}
	rep, err := s.d.Read.Coverage.Report(r.Context(), label, community)
	if err != nil {
		return err
	}
	t := s.d.Read.Coverage.Targets()
	out := Coverage{Period: rep.Period, State: "open", PolicyVersion: rep.PolicyVersion,
		Targets: CoverageTargetsView{All: t.All, KeyGroups: t.KeyGroups, RiskBelow: t.RiskBelow},
		Street:  figuresView(rep.Street), Communities: []CommunityCoverage{}}
	names := make([]string, 0, len(rep.Communities))
	for c := range rep.Communities {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		f := rep.Communities[c]
		cc := CommunityCoverage{Community: c, Figures: figuresView(*f), Breaches: []CoverageBreach{}, UncoveredTotal: len(rep.Uncovered[c])}
		cc.Uncovered = rep.Uncovered[c][:min(len(rep.Uncovered[c]), maxUncovered)]
		if cc.Uncovered == nil {
			cc.Uncovered = []string{}
		}
		for _, b := range coverage.Breaches(*f, t) {
			l := breachLabels[b.Measure]
			cc.Breaches = append(cc.Breaches, CoverageBreach{Measure: b.Measure, Figure: b.Figure, Target: b.Target,
				MessageEN: fmt.Sprintf("community %s: %s %.1f%% in %s, below %.0f%%", c, l[0], 100*b.Figure, rep.Period, 100*b.Target),
				MessageZH: fmt.Sprintf("社区 %s：%s %s 为 %.1f%%，低于 %.0f%%", c, rep.Period, l[1], 100*b.Figure, 100*b.Target)})
		}
		out.Communities = append(out.Communities, cc)
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// asOfParam reads the as_of instant of a measures query (zero: now).
func asOfParam(q url.Values) (time.Time, error) {
	v := q.Get("as_of")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, newErr(ErrBadRequest, "invalid_time", "as_of", fmt.Sprintf("as_of %q is not an RFC 3339 instant, e.g. 2026-07-01T00:00:00+08:00", clip(v)),
			fmt.Sprintf("时刻 %q 格式不正确，例如 2026-07-01T00:00:00+08:00", clip(v)))
	}
	return t, nil
}

func tallyCount(t domain.Tally) CoverageCount {
	return countView(coverage.Count{Due: t.Den, Covered: t.Num})
}

// closedView answers a closed period from its events.
func closedView(p domain.ClosedPeriod, community string, t domain.CoverageTargets) Coverage {
	f := p.Current()
	figs := CoverageFigures{All: tallyCount(f.Coverage), KeyGroups: tallyCount(f.CoverageKeyGroups), ByClass: map[string]CoverageCount{}}
	for c, n := range f.CoverageByClass {
		figs.ByClass[string(c)] = tallyCount(n)
	}
	at := p.At
	out := Coverage{Period: p.Period, State: "closed", ClosedAt: &at, Amended: len(p.Amended) > 0, CalendarVersion: p.CalendarVersion,
		PolicyVersion: p.PolicyVersion, Targets: CoverageTargetsView{All: t.All, KeyGroups: t.KeyGroups, RiskBelow: t.RiskBelow},
		Street: figs, Communities: []CommunityCoverage{}, Flags: []ClosedFlag{}}
	if community != "" {
		out.Street = CoverageFigures{ByClass: map[string]CoverageCount{}}
		out.Communities = append(out.Communities, CommunityCoverage{Community: community, Figures: figs, Breaches: []CoverageBreach{}, Uncovered: []string{}})
	}
	out.SpotChecks = &SpotCheckRate{Visits: f.SpotChecks.Den, Checked: f.SpotChecks.Num}
	if r, ok := f.SpotChecks.Rate(); ok {
		out.SpotChecks.Rate = &r
	}
	for _, fl := range p.Flags {
		out.Flags = append(out.Flags, ClosedFlag{Measure: fl.Measure, Worker: fl.Worker, Figure: fl.Figure, Target: fl.Target, Periods: fl.Periods, MessageEN: fl.MessageEN, MessageZH: fl.MessageZH})
	}
	return out
}
