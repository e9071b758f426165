// Package readmodels wires Doorstep's read models together: the household
// profile, the deadline alerts, the audit index and the measures, so that
// the command-line tool and the server build one engine with all of them.
package readmodels

import (
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/flags"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/rectifications"
	"github.com/doorstep/doorstep/projections/relief"
	"github.com/doorstep/doorstep/projections/worklist"
)

// All returns every read-model projection. policies and cal derive the
// profile's next-visit-due instants; loc is the community time zone in
// which measures count months.
func All(policies *domain.PolicySet, cal domain.WorkingDayCalendar, loc *time.Location) []projections.Projection {
	return AllCached(policies, cal, loc, nil)
}

// AllCached is All with the profile projection dropping from reads the
// households each batch changes (profile.Projection.SetReadCache), so that
// readers sharing reads may keep what they read. Give a cache only when this
// process alone applies the projection; nil: none.
func AllCached(policies *domain.PolicySet, cal domain.WorkingDayCalendar, loc *time.Location, reads *profile.ReadCache) []projections.Projection {
	return AllOpened(policies, cal, loc, reads, nil)
}

// AllOpened is AllCached with the key vault o, through which the profile
// opens a household's sealed class to derive its next-visit-due instant
// (profile.Projection.SetOpener, decision 0148). The serving process and
// every process that applies the read models give it; nil: a sealed class
// derives no due instant.
func AllOpened(policies *domain.PolicySet, cal domain.WorkingDayCalendar, loc *time.Location, reads *profile.ReadCache, o domain.Opener) []projections.Projection {
	prof := profile.New(policies, cal)
	if reads != nil {
		prof.SetReadCache(reads)
	}
	if o != nil {
		prof.SetOpener(o)
	}
	return []projections.Projection{
		prof,
		alerts.New(),
		audit.NewIndex(),
		measures.New(loc),
		coverage.New(),
		worklist.New(policies, cal),
		rectifications.New(),
		flags.New(),
		relief.New(loc),
	}
}

// Tables lists every table of ps, and the checkpoint table, in a fixed
// order: what projections.Dump compares.
func Tables(ps []projections.Projection) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Tables()...)
	}
	return append(out, "projection_checkpoints")
}
