// Package rectification opens rectification cases (整改, decision 0114):
// a process manager beside the deadline watcher and the period closer. It
// follows the log and, for every measures.flag_raised whose measure the
// policy lists in rectification.open_on (the "two consecutive closed months
// below 80%" of 001 §2.4.4) and that names a community, opens a case for
// that community through the command path. The case's id and the command's
// id derive from the flag's event id and the case opens at the flag's
// instant, so restarts and several nodes open each case once, with the same
// deadline. It opens a case (a 整改通知书, 001 §3.4) the same way for every
// spot-check finding of a discrepancy (decision 0115) and for every
// satisfaction survey closed below the policy's thresholds (decision 0127). The case's deadline
// is then the deadline watcher's like any other's.
package rectification

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// Config configures an Opener.
type Config struct {
	Store    eventstore.Store // required
	Commands *command.Service // required: opens the cases
	Registry *domain.Registry // default domain.NewRegistry()
	// Actor recorded on the openings; default "rectification-opener" (role system).
	Actor string
	// Logger receives failures that do not stop the opener (names streams
	// and ids only).
	Logger *slog.Logger
	// PollInterval bounds how long Run waits for news; default 1s.
	PollInterval time.Duration
}

// Opener follows the log and opens a case per qualifying flag. Safe for
// concurrent use; Sync serialises.
type Opener struct {
	cfg   Config
	mu    sync.Mutex
	after eventstore.Position
}

// New returns an opener that has not read the log yet.
func New(cfg Config) (*Opener, error) {
	if cfg.Store == nil || cfg.Commands == nil {
		return nil, errors.New("rectification: Config needs Store and Commands")
	}
	if cfg.Registry == nil {
		cfg.Registry = domain.NewRegistry()
	}
	if cfg.Actor == "" {
		cfg.Actor = "rectification-opener"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	return &Opener{cfg: cfg}, nil
}

var namespace = uuid.MustParse("0f7c2a51-3d4e-4b8a-9c61-5e2d8f1a7b34")

// CaseID is the id of the case a flag (by its event id) opens.
func CaseID(flagEventID string) string {
	return uuid.NewSHA1(namespace, []byte("case|"+flagEventID)).String()
}

// commandID is the id of the command that opens it.
func commandID(flagEventID string) string {
	return uuid.NewSHA1(namespace, []byte("open|"+flagEventID)).String()
}

// Sync reads the log since the last Sync and opens the cases the flags
// read ask for. It returns how many cases it opened (cases another node or
// an earlier run opened are not counted). A failure stops at the flag that
// failed; the next Sync starts from it again.
func (o *Opener) Sync(ctx context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	opened := 0
	for {
		page, err := o.cfg.Store.ReadAll(ctx, o.after, 2000)
		if err != nil {
			return opened, fmt.Errorf("rectification: read the log: %w", err)
		}
		for i := range page {
			e := &page[i]
			if e.Type == domain.TypeMeasuresFlagRaised || e.Type == domain.TypeSpotCheckFindingRecorded || e.Type == domain.TypeSurveyClosed {
				n, err := o.flag(ctx, e)
				if err != nil {
					return opened, err
				}
				opened += n
			}
			o.after = e.Position
		}
		if len(page) < 2000 {
			return opened, nil
		}
	}
}

func (o *Opener) flag(ctx context.Context, e *eventstore.Event) (int, error) {
	r, err := eventlog.Decode(o.cfg.Registry, e)
	if err != nil {
		o.cfg.Logger.Warn("a flag cannot be read; it is ignored / 无法读取预警事件，已忽略", "stream", e.Stream, "position", e.Position.String(), "error", err)
		return 0, nil
	}
	flagID := e.ID.String()
	var in domain.OpenRectification
	var at time.Time
	switch f := r.Event.(type) {
	case domain.MeasuresFlagRaised:
		if f.Community == "" || f.Worker != "" || !o.cfg.Commands.Policies().Current().Rectification.OpensOn(f.Measure) {
			return 0, nil
		}
		in = domain.OpenRectification{Community: f.Community, Source: domain.SourceFlag, FlagEventID: flagID, Measure: f.Measure,
			Periods: f.Periods, ReasonEN: f.MessageEN, ReasonZH: f.MessageZH}
		at = f.At
	case domain.SpotCheckFindingRecorded:
		// 对发现的问题下发整改通知书，限期整改 (001 §3.4). The reason names
		// the visit, not what was found (free text about a household).
		if f.Result != domain.FindingDiscrepancy {
			return 0, nil
		}
		v := f.Visit
		in = domain.OpenRectification{Community: f.Community, Source: domain.SourceSpotCheck, FindingEventID: flagID, Visit: &v,
			Periods:  []string{f.Period},
			ReasonEN: fmt.Sprintf("%s: the spot check of %s found the record of visit %s untrue (checked by %s); rectify it", f.Community, f.Period, v, f.Inspector),
			ReasonZH: fmt.Sprintf("%s：%s 抽查发现走访记录 %s 不实（抽查人员 %s），限期整改", f.Community, f.Period, v, f.Inspector)}
		at = f.At
	case domain.SurveyClosed:
		// 满意度低于80%的社区需限期整改 (001 §3.4); a return rate below the
		// policy's is a breach as well (问卷回收率不低于80%).
		if len(f.Breaches) == 0 {
			return 0, nil
		}
		in = domain.OpenRectification{Community: f.Community, Source: domain.SourceSurvey, SurveyEventID: flagID, Periods: []string{f.Period},
			ReasonEN: fmt.Sprintf("%s: the satisfaction survey of %s returned %d of %d questionnaires (%.0f%%, at least %.0f%% required) with %.0f%% satisfied (at least %.0f%% required); rectify it",
				f.Community, f.Period, f.Returned, f.Surveyed, 100*f.ReturnRate, 100*f.MinReturnRate, 100*f.Satisfaction, 100*f.MinSatisfaction),
			ReasonZH: fmt.Sprintf("%s：%s 满意度问卷发放 %d 份、回收 %d 份（回收率 %.0f%%，要求不低于 %.0f%%），满意度 %.0f%%（要求不低于 %.0f%%），限期整改",
				f.Community, f.Period, f.Surveyed, f.Returned, 100*f.ReturnRate, 100*f.MinReturnRate, 100*f.Satisfaction, 100*f.MinSatisfaction)}
		at = f.At
	default:
		return 0, nil
	}
	c := command.Cmd{ID: commandID(flagID), Actor: o.cfg.Actor, Role: domain.RoleSystem, At: at, CausationID: flagID}
	res, err := o.cfg.Commands.OpenRectification(ctx, c, CaseID(flagID), in)
	if err != nil {
		return 0, fmt.Errorf("rectification: open the case of flag %s: %w", flagID, err)
	}
	if res.Events > 0 && !res.Replayed {
		return 1, nil
	}
	return 0, nil
}

// Run syncs with the log until ctx ends (it then returns ctx's error),
// waking on new events or every PollInterval.
func (o *Opener) Run(ctx context.Context) error {
	head, err := o.cfg.Store.Head(ctx)
	if err != nil {
		return err
	}
	sub, err := o.cfg.Store.Subscribe(ctx, head, eventstore.Filter{Types: []string{domain.TypeMeasuresFlagRaised, domain.TypeSpotCheckFindingRecorded, domain.TypeSurveyClosed}})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		if _, err := o.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.cfg.Logger.Warn("opening a rectification case failed; retrying / 开立整改事项失败，将重试", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.cfg.PollInterval):
		case _, ok := <-sub.C:
			if !ok {
				return errors.Join(sub.Err(), ctx.Err())
			}
		}
	}
}
