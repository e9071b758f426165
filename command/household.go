package command

import (
	"context"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Member is the input of AddMember and ChangeMember. IDNumber, Phone,
// Income, Health and Disability are sensitive: the service seals them with
// the household's data key before they enter an event, and they need the
// household's consent. They are never part of an error message.
type Member struct {
	Name       string `json:"name"`
	Relation   string `json:"relation"`
	BirthDate  string `json:"birth_date,omitempty"`
	Occupation string `json:"occupation,omitempty"`
	IDNumber   string `json:"id_number,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Income     string `json:"income,omitempty"`
	Health     string `json:"health,omitempty"`
	Disability string `json:"disability,omitempty"`
}

func (m Member) public() Member {
	m.IDNumber, m.Phone, m.Income, m.Health, m.Disability = "", "", "", "", ""
	return m
}

func (m Member) secret(subject string) *secret {
	return &secret{household: subject, values: []string{m.IDNumber, m.Phone, m.Income, m.Health, m.Disability}}
}

// Visit is the input of RecordVisit. Health and Economic (two of the five
// understandings) are sensitive and sealed like Member's, and so is
// CheckInPlace (where the check-in was made, in words: the household's
// address or near it), sealed into CheckIn.Place.
type Visit struct {
	VisitID string `json:"visit_id,omitempty"` // default: derived from the command id
	// Team names the team; Members names it with roles (decision 0120).
	// With Team only, the recorder takes their account's team role.
	Team               []string               `json:"team,omitempty"`
	Members            []domain.TeamMember    `json:"members,omitempty"`
	Purpose            domain.VisitPurpose    `json:"purpose,omitempty"`
	Covered            []domain.Understanding `json:"covered,omitempty"`
	NextContact        *domain.NextContact    `json:"next_contact,omitempty"`
	CheckInPlace       string                 `json:"check_in_place,omitempty"`
	Relief             []domain.Relief        `json:"relief,omitempty"`
	OccurredAt         time.Time              `json:"occurred_at"`
	Mode               domain.VisitMode       `json:"mode"`
	Outcome            domain.VisitOutcome    `json:"outcome"`
	Health             string                 `json:"health,omitempty"`
	Economic           string                 `json:"economic,omitempty"`
	SupportObligations string                 `json:"support_obligations,omitempty"`
	HomeSafety         string                 `json:"home_safety,omitempty"`
	ServiceNeeds       string                 `json:"service_needs,omitempty"`
	Observations       string                 `json:"observations,omitempty"`
	Summary            string                 `json:"summary,omitempty"`
	Attachments        []string               `json:"attachments,omitempty"`
	CheckIn            *domain.CheckIn        `json:"check_in,omitempty"`
	ProblemIDs         []string               `json:"problem_ids,omitempty"`
	// Communication on a completed visit, and why it was ineffective
	// (沟通无效, 001 §6.2; decision 0145).
	Communication       domain.Communication       `json:"communication,omitempty"`
	CommunicationReason domain.CommunicationReason `json:"communication_reason,omitempty"`
}

// sealing seals a command's sensitive values once (on the first decide) and
// remembers the key id used.
type sealing struct {
	ctx       context.Context // the command's, for the Sealer
	s         *Service
	household string
	done      bool
	out       []domain.Sealed
	keyID     string
}

func (x *sealing) seal(values ...string) ([]domain.Sealed, error) {
	if x.done {
		return x.out, nil
	}
	out := make([]domain.Sealed, len(values))
	for i, v := range values {
		if v == "" {
			continue
		}
		if x.s.sealer == nil {
			return nil, noSealer()
		}
		sv, err := domain.SealString(x.ctx, x.s.sealer, x.household, v)
		if err != nil {
			return nil, err
		}
		out[i], x.keyID = sv, sv.KeyID
	}
	x.out, x.done = out, true
	return out, nil
}

func (m Member) details(x *sealing) (domain.MemberDetails, error) {
	sv, err := x.seal(m.IDNumber, m.Phone, m.Income, m.Health, m.Disability)
	if err != nil {
		return domain.MemberDetails{}, err
	}
	return domain.MemberDetails{Name: m.Name, Relation: m.Relation, BirthDate: m.BirthDate, Occupation: m.Occupation,
		IDNumber: sv[0], Phone: sv[1], Income: sv[2], Health: sv[3], Disability: sv[4]}, nil
}

// onHousehold runs a command on household id.
func (s *Service) onHousehold(ctx context.Context, c Cmd, id, kind string, input any, sec *secret, x *sealing,
	decide func(h *domain.Household, m domain.Meta) ([]domain.Event, error)) (Result, error) {
	if id == "" {
		return Result{}, errorf(domain.ErrInvalid, "required", "household_id",
			"the household id is required; fill it in and try again", "家庭编号为必填项；请填写后重试")
	}
	t := target[*domain.Household]{
		kind: kind, stream: domain.HouseholdStream(id), input: input, secret: sec,
		newAgg: func() *domain.Household { return domain.NewHousehold(id) },
		decide: decide,
	}
	if x != nil {
		t.keyID = func() string { return x.keyID }
	}
	res, _, err := execute(ctx, s, c, t)
	res.ID = id
	return res, err
}

// RegisterHousehold opens a household file. An empty id is derived from the
// command id (see Result.ID).
func (s *Service) RegisterHousehold(ctx context.Context, c Cmd, id string, in domain.RegisterHousehold) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if id == "" {
		id = s.derivedID(c.ID, "household")
	}
	pol := s.policies.Current()
	return s.onHousehold(ctx, c, id, "household.register", in, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.Register(m, pol, in)
	})
}

// AddMember adds a member; an empty memberID is derived from the command id.
// Sensitive fields are sealed and need the household's consent.
func (s *Service) AddMember(ctx context.Context, c Cmd, householdID, memberID string, in Member) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if memberID == "" {
		memberID = s.derivedID(c.ID, "member")
	}
	// A member's fields are sealed under the member's own key, so that the
	// member can be erased alone (decision 0100).
	x := &sealing{ctx: ctx, s: s, household: domain.MemberSubject(householdID, memberID)}
	input := struct {
		MemberID string `json:"member_id"`
		Member
	}{memberID, in.public()}
	return s.onHousehold(ctx, c, householdID, "household.add_member", input, in.secret(x.household), x,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			d, err := in.details(x)
			if err != nil {
				return nil, err
			}
			return h.AddMember(m, memberID, d)
		})
}

// ChangeMember replaces a current member's details, with a reason.
func (s *Service) ChangeMember(ctx context.Context, c Cmd, householdID, memberID string, in Member, reason string) (Result, error) {
	x := &sealing{ctx: ctx, s: s, household: householdID}
	if memberID != "" {
		x.household = domain.MemberSubject(householdID, memberID)
	}
	input := struct {
		MemberID string `json:"member_id"`
		Member
		Reason string `json:"reason"`
	}{memberID, in.public(), reason}
	return s.onHousehold(ctx, c, householdID, "household.change_member", input, in.secret(x.household), x,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			d, err := in.details(x)
			if err != nil {
				return nil, err
			}
			return h.ChangeMember(m, memberID, d, reason)
		})
}

// RemoveMember records that a member left, with a reason.
func (s *Service) RemoveMember(ctx context.Context, c Cmd, householdID, memberID, reason string) (Result, error) {
	input := []string{memberID, reason}
	return s.onHousehold(ctx, c, householdID, "household.remove_member", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.RemoveMember(m, memberID, reason)
	})
}

// Relocate moves the household to a new address, community and grid.
func (s *Service) Relocate(ctx context.Context, c Cmd, householdID, address, community, grid, reason string) (Result, error) {
	input := []string{address, community, grid, reason}
	return s.onHousehold(ctx, c, householdID, "household.relocate", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.Relocate(m, address, community, grid, reason)
	})
}

// AssignWorker makes another worker responsible for the household.
func (s *Service) AssignWorker(ctx context.Context, c Cmd, householdID, worker, reason string) (Result, error) {
	input := []string{worker, reason}
	return s.onHousehold(ctx, c, householdID, "household.assign_worker", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.AssignWorker(m, worker, reason)
	})
}

// ChangeClass changes the household class (and so its visit frequency).
func (s *Service) ChangeClass(ctx context.Context, c Cmd, householdID string, to domain.HouseholdClass, reason string) (Result, error) {
	pol := s.policies.Current()
	input := []string{string(to), reason}
	return s.onHousehold(ctx, c, householdID, "household.change_class", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.ChangeClass(m, pol, to, reason)
	})
}

// ChangeCategory changes the assistance category ("" = none).
// Under a policy with class rules the class follows (domain.Household.ChangeCategory).
func (s *Service) ChangeCategory(ctx context.Context, c Cmd, householdID string, to domain.AssistanceCategory, reason string) (Result, error) {
	pol := s.policies.Current()
	input := []string{string(to), reason}
	return s.onHousehold(ctx, c, householdID, "household.change_category", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.ChangeCategory(m, pol, to, reason)
	})
}

// ChangeCircumstances replaces the circumstances the class rules look at
// (残疾, 独居老人, 困境儿童…); the class follows under the policy's rules.
func (s *Service) ChangeCircumstances(ctx context.Context, c Cmd, householdID string, to []domain.Circumstance, reason string) (Result, error) {
	pol := s.policies.Current()
	input := []string{reason}
	for _, x := range to {
		input = append(input, string(x))
	}
	return s.onHousehold(ctx, c, householdID, "household.change_circumstances", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.ChangeCircumstances(m, pol, to, reason)
	})
}

// ChangeRisk changes the risk level.
func (s *Service) ChangeRisk(ctx context.Context, c Cmd, householdID string, to domain.RiskLevel, reason string) (Result, error) {
	input := []string{string(to), reason}
	return s.onHousehold(ctx, c, householdID, "household.change_risk", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.ChangeRisk(m, to, reason)
	})
}

// AssessNeeds replaces the needs in the five domains.
func (s *Service) AssessNeeds(ctx context.Context, c Cmd, householdID string, needs map[domain.NeedDomain][]string, note string) (Result, error) {
	input := struct {
		Needs map[domain.NeedDomain][]string `json:"needs"`
		Note  string                         `json:"note"`
	}{needs, note}
	return s.onHousehold(ctx, c, householdID, "household.assess_needs", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.AssessNeeds(m, needs, note)
	})
}

// OfferResources replaces what the household offers the community.
func (s *Service) OfferResources(ctx context.Context, c Cmd, householdID string, skills []string, volunteer bool, idle []string) (Result, error) {
	input := struct {
		Skills    []string `json:"skills"`
		Volunteer bool     `json:"volunteer"`
		Idle      []string `json:"idle"`
	}{skills, volunteer, idle}
	return s.onHousehold(ctx, c, householdID, "household.offer_resources", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.OfferResources(m, skills, volunteer, idle)
	})
}

// RecordConsent records consent to data collection given or withdrawn.
func (s *Service) RecordConsent(ctx context.Context, c Cmd, householdID string, given bool, scope, reason string) (Result, error) {
	input := struct {
		Given  bool   `json:"given"`
		Scope  string `json:"scope"`
		Reason string `json:"reason"`
	}{given, scope, reason}
	return s.onHousehold(ctx, c, householdID, "household.record_consent", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.RecordConsent(m, given, scope, reason)
	})
}

// Archive closes the household file.
func (s *Service) Archive(ctx context.Context, c Cmd, householdID string, reason domain.ArchiveReason, note string) (Result, error) {
	input := []string{string(reason), note}
	return s.onHousehold(ctx, c, householdID, "household.archive", input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.Archive(m, reason, note)
	})
}

// RecordVisit records a visit (also a refusal or "nobody home"). The entry
// time is the command's time; an empty VisitID is derived from the command id.
func (s *Service) RecordVisit(ctx context.Context, c Cmd, householdID string, in Visit) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if in.VisitID == "" {
		in.VisitID = s.derivedID(c.ID, "visit")
	}
	pol := s.policies.Current()
	x := &sealing{ctx: ctx, s: s, household: householdID}
	pub := in
	pub.Health, pub.Economic, pub.CheckInPlace = "", "", ""
	sec := &secret{household: householdID, values: []string{in.Health, in.Economic, in.CheckInPlace}}
	return s.onHousehold(ctx, c, householdID, "household.record_visit", pub, sec, x, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		// A visit may link only problems already reported on its own
		// household (decision 0088). A problem found on this visit is
		// reported after it, citing the visit (its visit_id); that link
		// is kept on the problem. A problem of another household and one
		// never reported get the same answer, so that the answer does not
		// tell which ids exist elsewhere (decision 0088).
		for _, id := range in.ProblemIDs {
			if err := domain.CheckID("problem_ids", id); err != nil {
				return nil, err
			}
			p, err := s.Problem(ctx, id, domain.AsOf{})
			if err != nil {
				return nil, err
			}
			if !p.Exists() || p.HouseholdID() != householdID {
				return nil, errorf(domain.ErrRule, "problem_not_in_household", "problem_ids",
					fmt.Sprintf("problem %s is not a problem reported on household %s; link only this household's reported problems (a problem found on this visit is reported afterwards, with this visit's visit_id)", id, householdID),
					fmt.Sprintf("问题 %s 不是家庭 %s 已上报的问题；只能关联本家庭已上报的问题（本次走访发现的问题请在走访记录后上报，并填写本次走访的 visit_id）", id, householdID))
			}
		}
		sv, err := x.seal(in.Health, in.Economic, in.CheckInPlace)
		if err != nil {
			return nil, err
		}
		checkIn := in.CheckIn
		if !sv[2].IsZero() {
			if checkIn == nil {
				return nil, errorf(domain.ErrInvalid, "required", "check_in",
					"a check-in place needs the check-in (its time)", "填写签到地点时须同时填写签到（时间）")
			}
			c := *checkIn
			c.Place = sv[2]
			checkIn = &c
		}
		return h.RecordVisit(m, pol, domain.RecordVisit{VisitID: in.VisitID, Team: in.Team, Members: in.Members, Purpose: in.Purpose,
			Covered: in.Covered, NextContact: in.NextContact, Relief: in.Relief, OccurredAt: in.OccurredAt,
			Mode: in.Mode, Outcome: in.Outcome,
			Understandings: domain.Understandings{Health: sv[0], Economic: sv[1], SupportObligations: in.SupportObligations,
				HomeSafety: in.HomeSafety, ServiceNeeds: in.ServiceNeeds},
			Observations: in.Observations, Summary: in.Summary, Attachments: in.Attachments, CheckIn: checkIn, ProblemIDs: in.ProblemIDs,
			Communication: in.Communication, CommunicationReason: in.CommunicationReason})
	})
}
