package http

import (
	"context"
	"fmt"
	nethttp "net/http"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// VisitRequest is the body of POST /v1/households/{id}/visits. The team is
// given with roles in members (decision 0120), or by names in team (the
// request of before: the recorder then takes their account's team role,
// which meets the minimum team of an ordinary household). What a completed
// home visit must record per household class is policy data; a visit that
// does not meet it is refused (422 visit_incomplete) naming what is
// missing, in English and Chinese.
type VisitRequest struct {
	VisitID            string               `json:"visit_id,omitempty"`
	Team               []string             `json:"team,omitempty"`
	Members            []VisitMemberRequest `json:"members,omitempty"`
	OccurredAt         string               `json:"occurred_at"`
	Mode               string               `json:"mode"`
	Outcome            string               `json:"outcome"`
	Purpose            string               `json:"purpose,omitempty"`
	Covered            []string             `json:"covered,omitempty"`
	NextContact        *NextContactRequest  `json:"next_contact,omitempty"`
	Health             string               `json:"health,omitempty"`
	Economic           string               `json:"economic,omitempty"`
	SupportObligations string               `json:"support_obligations,omitempty"`
	HomeSafety         string               `json:"home_safety,omitempty"`
	ServiceNeeds       string               `json:"service_needs,omitempty"`
	Observations       string               `json:"observations,omitempty"`
	Summary            string               `json:"summary,omitempty"`
	Attachments        []string             `json:"attachments,omitempty"`
	CheckIn            *CheckInRequest      `json:"check_in,omitempty"`
	Relief             []ReliefRequest      `json:"relief,omitempty"`
	ProblemIDs         []string             `json:"problem_ids,omitempty"`
	// Communication on a completed visit: effective (the default) or
	// ineffective, with communication_reason (language, unwilling,
	// comprehension, no_responsible_member, interrupted, other): 沟通无效,
	// counted against the risk threshold of 001 §6.2 (decision 0145).
	Communication       string `json:"communication,omitempty"`
	CommunicationReason string `json:"communication_reason,omitempty"`
}

// VisitMemberRequest is a member of a visiting team: the person (a worker's
// account, or the name of someone without one) and the team role
// (grid_worker, community_secretary, community_cadre, social_worker,
// doctor, volunteer).
type VisitMemberRequest struct {
	Person string `json:"person"`
	Role   string `json:"role"`
}

// NextContactRequest: who follows up with the household, and when
// (RFC 3339).
type NextContactRequest struct {
	Person string `json:"person"`
	At     string `json:"at"`
}

// CheckInRequest is a check-in at the visit: its time, and where (the
// coordinates, a reference, or the place in words, which is sealed with the
// household's key).
type CheckInRequest struct {
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	At        string  `json:"at,omitempty"`
	Ref       string  `json:"ref,omitempty"`
	Place     string  `json:"place,omitempty"`
}

// ReliefRequest is relief handed over on the visit (decision 0122): kind
// (cash, goods, festival_gift, temporary_relief), amount_fen for cash (fen:
// 1 yuan is 100) or items for goods, the recipient (a member id of the
// household) and the acknowledgement (signature, thumbprint, photo; ack_ref
// the reference of the signed form or photo).
type ReliefRequest struct {
	Kind              string              `json:"kind"`
	AmountFen         int64               `json:"amount_fen,omitempty"`
	Items             []ReliefItemRequest `json:"items,omitempty"`
	RecipientMemberID string              `json:"recipient_member_id"`
	AckMethod         string              `json:"ack_method"`
	AckRef            string              `json:"ack_ref,omitempty"`
}

// ReliefItemRequest is a line of goods handed over.
type ReliefItemRequest struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Unit     string `json:"unit,omitempty"`
}

// maxVisitList bounds the lists of a visit request (members, team,
// covered, attachments, problem_ids).
const maxVisitList = 20

// visitRoutes records visits: a household command (HouseholdCommands)
// documented under its own tag.
func (s householdRoutes) visitRoutes() []route {
	return []route{
		s.cmdRoute("recordVisit", "/v1/households/{id}/visits", "record a visit (also a refusal or nobody home)", "visits", "VisitRequest", writers(), false, s.recordVisit),
	}
}

func (s householdRoutes) recordVisit(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[VisitRequest](r, body)
	if err != nil {
		return nil, err
	}
	at, err := parseTime("occurred_at", in.OccurredAt, true)
	if err != nil {
		return nil, err
	}
	for f, n := range map[string]int{"team": len(in.Team), "members": len(in.Members), "covered": len(in.Covered), "attachments": len(in.Attachments), "problem_ids": len(in.ProblemIDs), "relief": len(in.Relief)} {
		if n > maxVisitList {
			return nil, newErr(ErrBadRequest, "too_many", f, fmt.Sprintf("%s lists %d items; at most %d are accepted", f, n, maxVisitList),
				fmt.Sprintf("“%s” 列出了 %d 项；最多接受 %d 项", f, n, maxVisitList))
		}
	}
	v := command.Visit{VisitID: in.VisitID, Team: in.Team, OccurredAt: at, Mode: domain.VisitMode(in.Mode), Outcome: domain.VisitOutcome(in.Outcome),
		Purpose: domain.VisitPurpose(in.Purpose), Health: in.Health, Economic: in.Economic, SupportObligations: in.SupportObligations, HomeSafety: in.HomeSafety,
		ServiceNeeds: in.ServiceNeeds, Observations: in.Observations, Summary: in.Summary, Attachments: in.Attachments, ProblemIDs: in.ProblemIDs,
		Communication: domain.Communication(in.Communication), CommunicationReason: domain.CommunicationReason(in.CommunicationReason)}
	for _, m := range in.Members {
		v.Members = append(v.Members, domain.TeamMember{Person: m.Person, Role: domain.TeamRole(m.Role)})
	}
	for _, r := range in.Relief {
		if len(r.Items) > maxVisitList {
			return nil, newErr(ErrBadRequest, "too_many", "relief.items", fmt.Sprintf("relief.items lists %d items; at most %d are accepted", len(r.Items), maxVisitList),
				fmt.Sprintf("“relief.items” 列出了 %d 项；最多接受 %d 项", len(r.Items), maxVisitList))
		}
		x := domain.Relief{Kind: domain.ReliefKind(r.Kind), AmountFen: r.AmountFen, Recipient: r.RecipientMemberID, AckMethod: domain.AckMethod(r.AckMethod), AckRef: r.AckRef}
		for _, it := range r.Items {
			x.Items = append(x.Items, domain.ReliefItem{Name: it.Name, Quantity: it.Quantity, Unit: it.Unit})
		}
		v.Relief = append(v.Relief, x)
	}
	for _, c := range in.Covered {
		v.Covered = append(v.Covered, domain.Understanding(c))
	}
	if nc := in.NextContact; nc != nil {
		t, err := parseTime("next_contact.at", nc.At, true)
		if err != nil {
			return nil, err
		}
		v.NextContact = &domain.NextContact{Person: nc.Person, At: t}
	}
	if c := in.CheckIn; c != nil {
		t, err := parseTime("check_in.at", c.At, false)
		if err != nil {
			return nil, err
		}
		v.CheckIn = &domain.CheckIn{Latitude: c.Latitude, Longitude: c.Longitude, At: t, Ref: c.Ref}
		v.CheckInPlace = c.Place
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RecordVisit(ctx, c, id, v)
	}), nil
}
