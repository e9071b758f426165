package command

import (
	"context"
	"slices"

	"github.com/doorstep/doorstep/domain"
)

// sealText replaces the personal text of the events a command decided —
// members' names, birth dates and occupations, addresses, and every free
// text a worker writes about a household (summaries, observations,
// descriptions, notes, reasons, outcomes) — with sealed tokens
// (domain.SealText, decision 0108) under the household's key, or the
// member's own key for a member's fields. household is the household the
// stream belongs to (for a problem or a referral, the household it is
// about). Names and addresses carry search tags (domain.SearchTag).
// Without a sealer, or with text sealing off (the benchmark's baseline),
// the events are returned as they are.
func (s *Service) sealText(ctx context.Context, household string, evs []domain.Event) ([]domain.Event, error) {
	if s.sealer == nil || s.clearText {
		return evs, nil
	}
	if household == "" {
		return s.sealOthers(ctx, evs)
	}
	var err error
	seal := func(subject string, dst *string) {
		if err != nil || *dst == "" || domain.IsSealedText(*dst) {
			return
		}
		*dst, err = domain.SealText(ctx, s.sealer, subject, *dst, nil)
	}
	sealTagged := func(subject string, dst *string) {
		if err != nil || *dst == "" || domain.IsSealedText(*dst) {
			return
		}
		var tag string
		if tag, err = domain.SearchTag(ctx, s.sealer, subject, domain.NormalizeSearch(*dst)); err != nil {
			return
		}
		*dst, err = domain.SealText(ctx, s.sealer, subject, *dst, []string{tag})
	}
	member := func(id string, d *domain.MemberDetails) {
		sub := domain.MemberSubject(household, id)
		sealTagged(sub, &d.Name)
		seal(sub, &d.BirthDate)
		seal(sub, &d.Occupation)
	}
	h := household
	out := make([]domain.Event, len(evs))
	for i, ev := range evs {
		switch e := ev.(type) {
		case domain.HouseholdRegistered:
			sealTagged(h, &e.Address)
			seal(h, &e.ClassReason)
			sealCategory(seal, h, &e.Category)
			e.Circumstances = sealCircumstances(seal, h, e.Circumstances)
			seal(h, &e.ClassRule) // "category di_bao" names the category
			sealClass(seal, h, &e.Class)
			ev = e
		case domain.HouseholdMemberAdded:
			member(e.MemberID, &e.MemberDetails)
			ev = e
		case domain.HouseholdMemberChanged:
			member(e.MemberID, &e.MemberDetails)
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdMemberLeft:
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdRelocated:
			seal(h, &e.FromAddress)
			sealTagged(h, &e.Address)
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdWorkerChanged:
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdClassChanged:
			seal(h, &e.Reason)
			seal(h, &e.Rule) // names the category or circumstance that matched
			sealClass(seal, h, &e.From)
			sealClass(seal, h, &e.To)
			ev = e
		case domain.HouseholdCategoryChanged:
			seal(h, &e.Reason)
			sealCategory(seal, h, &e.From)
			sealCategory(seal, h, &e.To)
			ev = e
		case domain.HouseholdCircumstancesChanged:
			seal(h, &e.Reason)
			e.From = sealCircumstances(seal, h, e.From)
			e.To = sealCircumstances(seal, h, e.To)
			ev = e
		case domain.HouseholdRiskChanged:
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdNeedsAssessed:
			seal(h, &e.Note)
			ev = e
		case domain.HouseholdConsentRecorded:
			seal(h, &e.Reason)
			ev = e
		case domain.HouseholdArchived:
			seal(h, &e.Note)
			ev = e
		case domain.VisitRecorded:
			seal(h, &e.Observations)
			seal(h, &e.Summary)
			seal(h, &e.Understandings.SupportObligations)
			seal(h, &e.Understandings.HomeSafety)
			seal(h, &e.Understandings.ServiceNeeds)
			if e.NextContact != nil { // often a family member (000 §3.2 下次联系人)
				nc := *e.NextContact
				seal(h, &nc.Person)
				e.NextContact = &nc
			}
			ev = e
		case domain.ProblemReported:
			seal(h, &e.Description)
			ev = e
		case domain.ProblemReclassified:
			seal(h, &e.Reason)
			ev = e
		case domain.ProblemAssigned:
			seal(h, &e.Reason)
			ev = e
		case domain.ProblemDeadlineExtended:
			seal(h, &e.Reason)
			ev = e
		case domain.ProblemProgressNoted:
			seal(h, &e.Note)
			ev = e
		case domain.ProblemResolved:
			seal(h, &e.Summary)
			e.Resources = sealResources(e.Resources, func(d *string) { seal(h, d) })
			ev = e
		case domain.ProblemSatisfactionRated:
			seal(h, &e.Comment)
			ev = e
		case domain.ProblemRevisited:
			seal(h, &e.Note)
			ev = e
		case domain.ProblemReopened:
			seal(h, &e.Reason)
			ev = e
		case domain.ProblemClosed:
			seal(h, &e.Reason)
			ev = e
		case domain.ReferralRequested:
			seal(h, &e.Request)
			ev = e
		case domain.ReferralAccepted:
			seal(h, &e.Note)
			ev = e
		case domain.ReferralDeclined:
			seal(h, &e.Reason)
			ev = e
		case domain.ReferralStarted:
			seal(h, &e.Note)
			ev = e
		case domain.ReferralCompleted:
			seal(h, &e.Outcome)
			e.Resources = sealResources(e.Resources, func(d *string) { seal(h, d) })
			ev = e
		case domain.ReferralCancelled:
			seal(h, &e.Reason)
			ev = e
		case domain.ReferralEscalated:
			seal(h, &e.Reason)
			ev = e
		}
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

// sealCategory seals an assistance category label (decision 0147): 低保,
// 特困… reveal income. The empty category (none) stays empty.
func sealCategory(seal func(string, *string), h string, c *domain.AssistanceCategory) {
	v := string(*c)
	seal(h, &v)
	*c = domain.AssistanceCategory(v)
}

// sealClass seals a household class label (decision 0148): "special"
// says severe mental illness, a child in difficulty or an elderly person
// living alone; "key" says 低保, 特困 or a disability.
func sealClass(seal func(string, *string), h string, c *domain.HouseholdClass) {
	v := string(*c)
	seal(h, &v)
	*c = domain.HouseholdClass(v)
}

// sealCircumstances seals each circumstance label in a copy (decision 0147):
// one token per label keeps the field a list of strings, so every reader
// that opens tokens (the API's answers) shows the list as it was.
func sealCircumstances(seal func(string, *string), h string, cs []domain.Circumstance) []domain.Circumstance {
	if len(cs) == 0 {
		return cs
	}
	out := make([]domain.Circumstance, len(cs))
	for i, c := range cs {
		v := string(c)
		seal(h, &v)
		out[i] = domain.Circumstance(v)
	}
	return out
}

// sealOthers seals the personal text of events whose stream is not a
// household's: a spot check's finding detail (decision 0115) is about the
// sampled visit, so it is sealed under that visit's household's key.
func (s *Service) sealOthers(ctx context.Context, evs []domain.Event) ([]domain.Event, error) {
	var out []domain.Event
	for i, ev := range evs {
		e, ok := ev.(domain.SpotCheckFindingRecorded)
		if !ok || e.Detail == "" || domain.IsSealedText(e.Detail) || e.Visit.Household == "" {
			continue
		}
		d, err := domain.SealText(ctx, s.sealer, e.Visit.Household, e.Detail, nil)
		if err != nil {
			return nil, err
		}
		e.Detail = d
		if out == nil {
			out = slices.Clone(evs)
		}
		out[i] = e
	}
	if out == nil {
		return evs, nil
	}
	return out, nil
}

// sealResources seals the descriptions of linked resources in a copy.
func sealResources(rs []domain.LinkedResource, seal func(*string)) []domain.LinkedResource {
	if len(rs) == 0 {
		return rs
	}
	out := make([]domain.LinkedResource, len(rs))
	copy(out, rs)
	for i := range out {
		seal(&out[i].Description)
	}
	return out
}

// householdOf returns the household a stream's aggregate belongs to.
func householdOf(a domain.Aggregate) string {
	switch x := any(a).(type) {
	case *domain.Household:
		return x.ID()
	case interface{ HouseholdID() string }:
		return x.HouseholdID()
	}
	return ""
}
