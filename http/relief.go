package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/relief"
)

// The relief ledger (慰问台账, decision 0128): the relief handed over on
// visits (decision 0122) in a community in a month, with totals per kind.
// Supervisors read their communities' (another community is 403
// out_of_scope, as for every list filtered on a community); auditors and
// admins read any community or the whole street.

// ReliefReader lists the relief ledger (*relief.Reader).
type ReliefReader interface {
	List(ctx context.Context, f relief.Filter) (relief.Ledger, error)
}

// ReliefLine is a line of goods in the ledger.
type ReliefLine struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Unit     string `json:"unit,omitempty"`
}

// ReliefHandover is one row of GET /v1/relief: what was handed over on
// which visit, to which member (by id), acknowledged how.
type ReliefHandover struct {
	HouseholdID       string       `json:"household_id"`
	Community         string       `json:"community"`
	Grid              string       `json:"grid"`
	VisitID           string       `json:"visit_id"`
	OccurredAt        time.Time    `json:"occurred_at"`
	Kind              string       `json:"kind"`
	KindZH            string       `json:"kind_zh"`
	AmountFen         int64        `json:"amount_fen,omitempty"`
	Items             []ReliefLine `json:"items,omitempty"`
	RecipientMemberID string       `json:"recipient_member_id"`
	AckMethod         string       `json:"ack_method"`
}

// ReliefTotal sums the month's handovers of one kind: how many, the amount
// in fen (cash kinds), the units of goods (goods kinds).
type ReliefTotal struct {
	Kind      string `json:"kind"`
	KindEN    string `json:"kind_en"`
	KindZH    string `json:"kind_zh"`
	Handovers int    `json:"handovers"`
	AmountFen int64  `json:"amount_fen"`
	Units     int64  `json:"units"`
}

// ReliefLedger is a page of the ledger of a month (oldest first) and the
// totals over the whole month.
type ReliefLedger struct {
	Community string           `json:"community,omitempty"`
	Period    string           `json:"period"`
	Handovers []ReliefHandover `json:"handovers"`
	Totals    []ReliefTotal    `json:"totals"`
	Count     int              `json:"count"`
	Limit     int              `json:"limit"`
	Offset    int              `json:"offset"`
}

func reliefSchemaTypes(responses map[string]reflect.Type) {
	responses["ReliefLedger"] = reflect.TypeOf(ReliefLedger{})
}

func (s *Server) reliefRoutes() []route {
	return []route{
		{op: "listRelief", method: "GET", path: "/v1/relief", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin},
			summary: "the relief ledger of a community for a month: every handover of cash or goods on a visit, with totals per kind", h: s.listRelief,
			doc: opDoc{tag: "measures", ok: 200, resp: "ReliefLedger", query: true, params: []param{
				qp("community", "string", "community (a supervisor of several names one; auditors and admins may leave it out for the whole street)"),
				qp("period", "string", "the month, YYYY-MM (in the community time zone)"),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
	}
}

func (s *Server) listRelief(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "community", "period", "limit", "offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	period := q.Get("period")
	if period == "" {
		return newErr(ErrBadRequest, "required", "period", "the period is required, e.g. period=2026-09", "缺少期间参数，例如 2026-09")
	}
	if t, err := time.Parse("2006-01", period); err != nil || t.Format("2006-01") != period {
		return newErr(ErrBadRequest, "invalid_period", "period", fmt.Sprintf("period %q is not a month; write YYYY-MM, e.g. 2026-09", clip(period)),
			fmt.Sprintf("期间 %q 不是月份；请写作 YYYY-MM，例如 2026-09", clip(period)))
	}
	if s.d.Read.Relief == nil {
		return noReadModel("relief ledger")
	}
	f := relief.Filter{Month: period}
	var err error
	if f.Community, _, err = scopeFilter(principalFrom(r.Context()), q.Get("community"), ""); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if f.Limit > relief.MaxLimit {
		return newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit is at most %d", relief.MaxLimit),
			fmt.Sprintf("每页最多 %d 条", relief.MaxLimit))
	}
	if err := s.waitFor(w, r, relief.Name); err != nil {
		return err
	}
	l, err := s.d.Read.Relief.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := ReliefLedger{Community: f.Community, Period: period, Handovers: make([]ReliefHandover, 0, len(l.Handovers)),
		Totals: make([]ReliefTotal, 0, len(l.Totals)), Count: l.Count, Limit: f.Limit, Offset: f.Offset}
	for _, h := range l.Handovers {
		_, zh := h.Kind.Label()
		v := ReliefHandover{HouseholdID: h.HouseholdID, Community: h.Community, Grid: h.Grid, VisitID: h.VisitID, OccurredAt: h.OccurredAt,
			Kind: string(h.Kind), KindZH: zh, AmountFen: h.AmountFen, RecipientMemberID: h.Recipient, AckMethod: string(h.AckMethod)}
		for _, it := range h.Items {
			v.Items = append(v.Items, ReliefLine{Name: it.Name, Quantity: it.Quantity, Unit: it.Unit})
		}
		out.Handovers = append(out.Handovers, v)
	}
	for _, t := range l.Totals {
		en, zh := t.Kind.Label()
		out.Totals = append(out.Totals, ReliefTotal{Kind: string(t.Kind), KindEN: en, KindZH: zh, Handovers: t.Handovers, AmountFen: t.AmountFen, Units: t.Units})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
