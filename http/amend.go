package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// MeasuresCommands are the commands on the closed periods of the measures
// (decision 0099, 0107).
type MeasuresCommands interface {
	AmendPeriod(ctx context.Context, c command.Cmd, community, period string, f domain.PeriodFigures, reason string) (command.Result, error)
}

// AmendPeriodRequest is the body of POST /v1/measures/periods/{period}/amend:
// the corrected figures of a closed period of a community (none: the
// street, admins only) and why. The close and its flags stay in the log.
type AmendPeriodRequest struct {
	Community string               `json:"community,omitempty"`
	Figures   domain.PeriodFigures `json:"figures"`
	Reason    string               `json:"reason"`
}

func amendSchemaTypes(requests, _ map[string]reflect.Type) {
	requests["AmendPeriodRequest"] = reflect.TypeOf(AmendPeriodRequest{})
}

func (s *Server) amendRoutes() []route {
	return []route{
		s.cmdRoute("amendPeriod", "/v1/measures/periods/{period}/amend",
			"correct the figures of a closed period, with a reason (the close and its flags stay)", "measures", "AmendPeriodRequest", managers(), false, s.amendPeriod),
	}
}

func (s *Server) amendPeriod(r *nethttp.Request, body []byte) (*plan, error) {
	period := mux.Vars(r)["period"]
	if per, _, _, err := domain.ParsePeriodLabel(period, time.UTC); err != nil || per == domain.PeriodWeek {
		return nil, newErr(ErrBadRequest, "invalid_period", "period",
			fmt.Sprintf("period %q is not a month, quarter, half-year or year; write 2026-03, 2026-Q1, 2026-H1 or 2026", clip(period)),
			fmt.Sprintf("期间 %q 无效；请写成 2026-03、2026-Q1、2026-H1 或 2026", clip(period)))
	}
	in, err := decodeInto[AmendPeriodRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.Community != "" {
		if err := domain.CheckID("community", in.Community); err != nil {
			return nil, err
		}
	}
	if in.Reason == "" {
		return nil, newErr(ErrBadRequest, "required", "reason", "a reason is required: say why the closed figures are corrected",
			"必须填写原因：说明为何更正已结账的数据")
	}
	return &plan{stream: domain.MeasuresStream(in.Community),
		authorize: func(_ context.Context, p *identity.Principal) error {
			switch {
			case p.Role == identity.RoleAdmin:
				return nil
			case in.Community == "":
				return newErr(ErrForbidden, "out_of_scope", "community", "only an admin amends the street's figures; name your community",
					"只有管理员可以更正全街道的数据；请指定您的社区")
			case !p.Covers(in.Community, ""):
				return newErr(ErrForbidden, "out_of_scope", "community", fmt.Sprintf("community %s is outside your scope", in.Community),
					fmt.Sprintf("社区 %s 不在您的权限范围内", in.Community))
			}
			return nil
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.AmendPeriod(ctx, c, in.Community, period, in.Figures, in.Reason)
		}}, nil
}
