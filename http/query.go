package http

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/flags"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/worklist"
)

// ReadModels are the projections the query routes read. Any field may be
// nil (the interface itself, not one holding a nil pointer): its routes
// then answer 503.
type ReadModels struct {
	// Engine applies the projections; it provides read-your-writes waits.
	Engine   ProjectionWaiter
	Profiles ProfileReader
	Alerts   AlertReader
	Trail    AuditReader
	Measures MeasureReader
	Coverage CoverageReader
	Worklist WorklistReader
	// Rectifications lists rectification cases (*rectifications.Reader).
	Rectifications RectificationReader
	// Relief lists the relief ledger (*relief.Reader).
	Relief ReliefReader
	// Flags lists the flags recorded at period closes (*flags.Reader).
	Flags FlagReader
	// Visits lists the completed visits spot checks draw from (*coverage.Reader).
	Visits VisitPopulation
}

// The read models the query routes consume. The projections provide them:
// *projections.Engine, *profile.Reader, *alerts.Reader, *audit.Trail and
// *measures.Reader.
type (
	// ProjectionWaiter waits until a projection has applied a position
	// (wait_for), and tells whether the read models are stalled (catching
	// up keeps failing and is being retried: a *projections.StalledError).
	ProjectionWaiter interface {
		WaitFor(ctx context.Context, projection string, pos eventstore.Position) error
		Stalled() error
	}
	// ProfileReader lists and reads household files.
	ProfileReader interface {
		List(ctx context.Context, f profile.Filter) ([]profile.Summary, error)
		Get(ctx context.Context, householdID string, reveal *profile.Reveal) (*profile.Profile, error)
		Visits(ctx context.Context, householdID string, limit, offset int) ([]profile.Visit, error)
	}
	// AlertReader lists and counts open deadline alerts.
	AlertReader interface {
		Open(ctx context.Context, f alerts.Filter, now time.Time) ([]alerts.Alert, error)
		CountByCommunity(ctx context.Context) ([]alerts.Counts, error)
	}
	// AuditReader reads audit trails and a household's file as of an
	// instant.
	AuditReader interface {
		Household(ctx context.Context, householdID string) ([]audit.Entry, error)
		Problem(ctx context.Context, problemID string) ([]audit.Entry, error)
		AsOf(ctx context.Context, householdID string, at time.Time) (*audit.Snapshot, error)
	}
	// WorklistReader lists problems and referrals (*worklist.Reader).
	WorklistReader interface {
		Problems(ctx context.Context, f worklist.Filter) ([]worklist.Problem, error)
		Referrals(ctx context.Context, f worklist.Filter) ([]worklist.Referral, error)
	}
	// MeasureReader reads the performance measures.
	MeasureReader interface {
		Measures(ctx context.Context, q measures.Query) ([]measures.Row, error)
	}
	// FlagReader lists the flags recorded at period closes (*flags.Reader).
	FlagReader interface {
		List(ctx context.Context, f flags.Filter) ([]flags.Flag, error)
	}
)

// queryTypes names the response types of the query routes.
func queryTypes() map[string]reflect.Type {
	return map[string]reflect.Type{
		"HouseholdList":     reflect.TypeOf(HouseholdList{}),
		"HouseholdProfile":  reflect.TypeOf(HouseholdProfile{}),
		"HouseholdSnapshot": reflect.TypeOf(HouseholdSnapshot{}),
		"AuditTrail":        reflect.TypeOf(AuditTrail{}),
		"SensitiveReads":    reflect.TypeOf(SensitiveReads{}),
		"ProblemView":       reflect.TypeOf(ProblemView{}),
		"ReferralView":      reflect.TypeOf(ReferralView{}),
		"AlertList":         reflect.TypeOf(AlertList{}),
		"AlertCounts":       reflect.TypeOf(AlertCounts{}),
		"Measures":          reflect.TypeOf(Measures{}),
		"MeasureFlags":      reflect.TypeOf(MeasureFlags{}),
		"Coverage":          reflect.TypeOf(Coverage{}),
		"ProblemList":       reflect.TypeOf(ProblemList{}),
		"ReferralList":      reflect.TypeOf(ReferralList{}),
	}
}

func noReadModel(what string) error {
	zh := map[string]string{"household profile": "家庭档案", "audit": "审计", "alerts": "提醒", "measures": "考核指标", "sensitive-read record": "敏感信息读取记录",
		"deadlines": "期限", "projection engine": "投影引擎", "worklist": "工作清单", "rectifications": "整改事项", "flags": "预警记录", "relief ledger": "慰问台账"}[what]
	return newErr(ErrUnavailable, "read_model_unavailable", "", "the "+what+" read model is not available on this server", "此服务器未提供"+zh+"读模型")
}

// StalledHeader is set on every answer of a read-model query while the
// read models are stalled (catching up keeps failing and is retried, e.g.
// the disk is full): its value is the instant the stall began (RFC 3339),
// and the answer comes from the read models' last commit, possibly stale.
const StalledHeader = "Doorstep-Read-Models-Stalled"

// waitFor honours wait_for/wait_timeout: it blocks until every named
// projection has applied the given position, bounded by Config.MaxWait.
// While the read models are stalled it marks the answer with StalledHeader,
// and a wait that is not met says the read models are stalled.
func (s *Server) waitFor(w nethttp.ResponseWriter, r *nethttp.Request, names ...string) error {
	if err := s.waitForPosition(r, names...); err != nil {
		return err
	}
	s.markStalled(w)
	return nil
}

// markStalled sets StalledHeader while the read models are stalled.
func (s *Server) markStalled(w nethttp.ResponseWriter) {
	if s.d.Read.Engine == nil {
		return
	}
	var se *projections.StalledError
	if errors.As(s.d.Read.Engine.Stalled(), &se) {
		w.Header().Set(StalledHeader, se.Since.UTC().Format(time.RFC3339))
	}
}

func (s *Server) waitForPosition(r *nethttp.Request, names ...string) error {
	q := r.URL.Query()
	tok := q.Get("wait_for")
	if tok == "" {
		return nil
	}
	pos, err := eventstore.ParsePosition(tok)
	if err != nil {
		return newErr(ErrBadRequest, "invalid_position", "wait_for",
			fmt.Sprintf("wait_for %q is not a position token; use the position a command returned", clip(tok)),
			fmt.Sprintf("wait_for %q 不是有效的位置标记；请使用命令返回的位置", clip(tok)))
	}
	d := s.cfg.DefaultWait
	if v := q.Get("wait_timeout"); v != "" {
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			return newErr(ErrBadRequest, "invalid_wait_timeout", "wait_timeout",
				fmt.Sprintf("wait_timeout %q is not a positive duration such as 2s", clip(v)), fmt.Sprintf("wait_timeout %q 不是有效时长（如 2s）", clip(v)))
		}
	}
	d = min(d, s.cfg.MaxWait)
	if s.d.Read.Engine == nil {
		return noReadModel("projection engine")
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	for _, n := range names {
		if err := s.d.Read.Engine.WaitFor(ctx, n, pos); err != nil {
			var we *projections.WaitError
			if !errors.As(err, &we) {
				return err
			}
			var se *projections.StalledError
			if errors.As(s.d.Read.Engine.Stalled(), &se) {
				return &domain.Error{Kind: ErrUnavailable, Code: "read_model_stalled", Field: "wait_for",
					Message: fmt.Sprintf("the %s read model reached position %s, not %s: the read models have been stalled since %s (catching up fails and is being retried; the operator is told in the log); retry later",
						n, we.Reached, pos, se.Since.UTC().Format(time.RFC3339)),
					MessageZH: fmt.Sprintf("%s 读模型只处理到位置 %s，尚未到达 %s：读模型自 %s 起停止更新（更新失败，正在重试，日志已告知运维人员）；请稍后重试",
						n, we.Reached, pos, se.Since.UTC().Format(time.RFC3339))}
			}
			return &domain.Error{Kind: ErrUnavailable, Code: "read_model_behind", Field: "wait_for",
				Message:   fmt.Sprintf("the %s read model reached position %s, not yet %s, within %s; retry shortly", n, we.Reached, pos, d),
				MessageZH: fmt.Sprintf("%s 读模型在 %s 内只处理到位置 %s，尚未到达 %s；请稍后重试", n, d, we.Reached, pos)}
		}
	}
	return nil
}

// page reads limit (default 100, at most Config.MaxPageSize) and offset.
func (s *Server) page(q map[string][]string) (limit, offset int, err error) {
	if limit, err = intParam(q, "limit"); err != nil {
		return 0, 0, err
	}
	if offset, err = intParam(q, "offset"); err != nil {
		return 0, 0, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit > s.cfg.MaxPageSize {
		return 0, 0, newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit must be at most %d", s.cfg.MaxPageSize), fmt.Sprintf("“limit” 不能超过 %d", s.cfg.MaxPageSize))
	}
	return limit, offset, nil
}

// intParam parses an optional non-negative integer parameter.
func intParam(q map[string][]string, name string) (int, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%s %q must be a non-negative integer", name, clip(v)), fmt.Sprintf("“%s” %q 须为非负整数", name, clip(v)))
	}
	return n, nil
}

func boolParam(q map[string][]string, name string) (bool, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%s %q must be true or false", name, clip(v)), fmt.Sprintf("“%s” %q 须为 “true” 或 “false”", name, clip(v)))
	}
	return b, nil
}

func enumParam(q map[string][]string, name, zh string, allowed ...string) (string, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return "", newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%q is not a valid %s; use one of %v", clip(v), name, allowed), fmt.Sprintf("%q 不是有效的%s；可选值 %s", clip(v), zh, quotedZH(allowed)))
}

// scopeFilter narrows a list query (community, grid) to the principal's
// scope: a worker's grid, a supervisor's community. A worker or supervisor
// with several must name one; naming one outside the scope is 403.
func scopeFilter(p *identity.Principal, community, grid string) (string, string, error) {
	pick := func(have []string, asked, field string) (string, error) {
		switch {
		case asked != "" && !slices.Contains(have, asked):
			return "", newErr(ErrForbidden, "out_of_scope", field, fmt.Sprintf("%s %s is outside your scope", field, asked), fmt.Sprintf("%s %s 不在您的权限范围内", scopeFieldZH[field], asked))
		case asked != "":
			return asked, nil
		case len(have) == 1:
			return have[0], nil
		}
		return "", newErr(ErrBadRequest, "required", field, fmt.Sprintf("you work in several %ss; name one with the %s parameter", field, field),
			fmt.Sprintf("您负责多个%s；请用 %s 参数指定一个", map[string]string{"grid": "网格", "community": "社区"}[field], field))
	}
	var err error
	switch p.Role {
	case identity.RoleWorker:
		grid, err = pick(p.Grids, grid, "grid")
	case identity.RoleSupervisor:
		community, err = pick(p.Communities, community, "community")
	case identity.RoleAuditor, identity.RoleAdmin:
	default:
		err = newErr(ErrForbidden, "role_forbidden", "", "your role may not list case files", "您的角色无权查看案件列表")
	}
	return community, grid, err
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// aggregateAsOfParams are the parameters of a route that folds one stream
// (read with asOfParams).
func aggregateAsOfParams() []param {
	return []param{qp("at", "string", "RFC 3339 instant: fold only the events recorded by then (404 not_reported_then / not_requested_then before the record existed)"),
		qp("version", "integer", "fold up to this stream version, from 1 (0 is 400 invalid_version; beyond the last version 404 version_not_found)")}
}

// asOfParams reads at/version into a domain.AsOf.
func asOfParams(r *nethttp.Request) (domain.AsOf, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "at", "version"); err != nil {
		return domain.AsOf{}, err
	}
	var as domain.AsOf
	at, err := parseTime("at", q.Get("at"), false)
	if err != nil {
		return as, err
	}
	v, err := intParam(q, "version")
	if err == nil && v == 0 && q.Has("version") {
		err = newErr(ErrBadRequest, "invalid_version", "version",
			"version 0 does not exist: versions start at 1 (the first event); leave version out for the latest",
			"版本 0 不存在：版本从 1（第一条事件）开始；不填 “version” 即读取最新版本")
	}
	as.RecordedAt, as.Version = at, uint64(v)
	return as, err
}
