package eventlog

import (
	"fmt"
	"strings"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// NewAggregate returns the empty aggregate a household, problem, referral or
// rectification stream folds into: the one mapping from stream name to aggregate for the
// readers that fold streams of several kinds (the scope resolver, the
// deadline watcher).
func NewAggregate(stream string) (domain.Aggregate, error) {
	id := strings.TrimPrefix(stream, eventstore.Category(stream)+"-")
	switch eventstore.Category(stream) {
	case "household":
		return domain.NewHousehold(id), nil
	case "problem":
		return domain.NewProblem(id), nil
	case "referral":
		return domain.NewReferral(id), nil
	case "rectification":
		return domain.NewRectification(id), nil
	}
	return nil, fmt.Errorf("eventlog: %s is not a household, problem, referral or rectification stream", stream)
}
