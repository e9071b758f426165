package command

import (
	"context"
	"fmt"

	"github.com/doorstep/doorstep/domain"
)

// openLabels returns rec with the household's sealed labels (assistance
// category and circumstances, decision 0147; the class, decision 0148) opened, so the domain decides
// on clear values (the policy's class rules look at them). The opened
// values live only in the folded aggregate of one load: the stream cache
// keeps the events as stored (tokens), so an erasure, made by this process
// or another, shows on the next load as domain.ErasedText. Clear values
// (events written before the seal, or without a key store) are kept as
// they are.
func (s *Service) openLabels(ctx context.Context, rec domain.Recorded) (domain.Recorded, error) {
	o := s.opener
	if o == nil {
		return rec, nil
	}
	var err error
	open := func(v string) string {
		if err != nil || !domain.IsSealedText(v) {
			return v
		}
		var r domain.Revealed
		if r, err = domain.OpenText(ctx, o, v); err != nil {
			err = fmt.Errorf("app: open a household label: %w", err)
			return v
		}
		return r.String() // the value, or "[erased]"
	}
	category := func(c domain.AssistanceCategory) domain.AssistanceCategory {
		return domain.AssistanceCategory(open(string(c)))
	}
	circumstances := func(cs []domain.Circumstance) []domain.Circumstance {
		var out []domain.Circumstance
		for i, c := range cs {
			if !domain.IsSealedText(string(c)) {
				continue
			}
			if out == nil {
				out = append([]domain.Circumstance(nil), cs...)
			}
			out[i] = domain.Circumstance(open(string(c)))
		}
		if out == nil {
			return cs
		}
		return out
	}
	class := func(c domain.HouseholdClass) domain.HouseholdClass {
		return domain.HouseholdClass(open(string(c)))
	}
	switch e := rec.Event.(type) {
	case domain.HouseholdRegistered:
		if !domain.IsSealedText(string(e.Category)) && !sealedAny(e.Circumstances) && !domain.IsSealedText(string(e.Class)) {
			return rec, nil
		}
		e.Category, e.Circumstances, e.Class = category(e.Category), circumstances(e.Circumstances), class(e.Class)
		rec.Event = e
	case domain.HouseholdClassChanged:
		if !domain.IsSealedText(string(e.From)) && !domain.IsSealedText(string(e.To)) {
			return rec, nil
		}
		e.From, e.To = class(e.From), class(e.To)
		rec.Event = e
	case domain.HouseholdCategoryChanged:
		e.From, e.To = category(e.From), category(e.To)
		rec.Event = e
	case domain.HouseholdCircumstancesChanged:
		e.From, e.To = circumstances(e.From), circumstances(e.To)
		rec.Event = e
	}
	return rec, err
}

func sealedAny(cs []domain.Circumstance) bool {
	for _, c := range cs {
		if domain.IsSealedText(string(c)) {
			return true
		}
	}
	return false
}
