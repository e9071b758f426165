package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections/audit"
)

// runReplay is `doorstep replay`: a household's file (with its problems
// and referrals) or one problem as the system knew it at an instant,
// printed as a timeline of who did what, when (occurred and recorded),
// what changed and why, followed by the state at that instant.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	calendarFlag(fs, st)
	household := fs.String("household", "", "household id / 家庭编号")
	problem := fs.String("problem", "", "problem id / 问题编号")
	at := fs.String("at", "", "as of this date (YYYY-MM-DD, end of that day in Asia/Shanghai) or RFC 3339 instant; default now / 截至日期或时刻")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if (*household == "") == (*problem == "") {
		return usageError{"doorstep replay: give exactly one of -household or -problem / 请指定 -household 或 -problem 之一"}
	}
	rt, err := openExisting(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer rt.Close()
	loc := rt.app.Calendar().Location()
	until, err := parseAsOf(*at, loc)
	if err != nil {
		return err
	}
	// The trail index is a read model: bring it up to date first.
	if _, err := rt.engine.CatchUp(ctx, nil); err != nil {
		return err
	}
	trail := rt.read.Trail
	var entries []audit.Entry
	subject := ""
	if *household != "" {
		subject = "household " + *household
		entries, err = trail.Household(ctx, *household)
	} else {
		subject = "problem " + *problem
		entries, err = trail.Problem(ctx, *problem)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s as of %s / 截至 %s\n\n", subject, until.In(loc).Format("2006-01-02 15:04:05 MST"), until.In(loc).Format("2006-01-02 15:04"))
	shown := 0
	// Replay is read at the operator's console with the key store at hand:
	// sealed text is shown opened, or [erased] (decision 0108).
	audit.OpenText(ctx, entries, rt.vault)
	for _, e := range entries {
		if e.RecordedAt.After(until) {
			continue
		}
		shown++
		fmt.Fprintf(stdout, "%s  %-28s %s (%s)", e.OccurredAt.In(loc).Format("2006-01-02 15:04"), e.Type, e.Actor, e.Role)
		if d := e.RecordedAt.Sub(e.OccurredAt); d > time.Minute || d < -time.Minute {
			fmt.Fprintf(stdout, "  recorded / 录入 %s", e.RecordedAt.In(loc).Format("2006-01-02 15:04"))
		}
		fmt.Fprintf(stdout, "  [%s v%d, position %s]\n", e.Stream, e.Version, e.Position)
		fmt.Fprintf(stdout, "      %s\n", e.Summary)
		for _, c := range e.Changes {
			fmt.Fprintf(stdout, "      %s: %s → %s\n", c.Field, orDash(c.Before), orDash(c.After))
		}
		if e.Reason != "" {
			fmt.Fprintf(stdout, "      why / 原因: %s\n", e.Reason)
		}
	}
	if shown == 0 {
		fmt.Fprintf(stdout, "nothing was recorded for %s by then / 截至该时刻没有记录\n", subject)
		return nil
	}
	fmt.Fprintf(stdout, "\n%d of %d events recorded by then / 截至该时刻共 %d 条记录\n", shown, len(entries), shown)
	if *household != "" {
		snap, err := trail.AsOf(ctx, *household, until)
		if err != nil {
			return err
		}
		h := snap.Household
		class := domain.HouseholdClass(domain.ShownText(ctx, rt.vault, string(h.Class()))) // sealed (decision 0148)
		fmt.Fprintf(stdout, "\nstate: %s, community %s, grid %s, worker %s, class %s, risk %s, archived %v, %d members, %d visits\n",
			domain.ShownText(ctx, rt.vault, h.Address()), h.Community(), h.Grid(), h.ResponsibleWorker(), class, h.Risk(), h.Archived(), len(h.Members()), len(h.Visits()))
		_, classZH := class.Label()
		_, riskZH := h.Risk().Label()
		fmt.Fprintf(stdout, "状态：%s，社区 %s，网格 %s，责任网格员 %s，家庭类别 %s，风险等级 %s，已归档 %s，成员 %d 人，走访 %d 次\n",
			domain.ShownText(ctx, rt.vault, h.Address()), h.Community(), h.Grid(), h.ResponsibleWorker(), classZH, riskZH, map[bool]string{true: "是", false: "否"}[h.Archived()], len(h.Members()), len(h.Visits()))
		for _, p := range snap.Problems {
			fmt.Fprintf(stdout, "  problem %s %s: %s, %s, assignee %s\n", p.Number(), p.ID(), domain.ShownText(ctx, rt.vault, p.Description()), p.Status(), p.Assignee())
		}
		for _, r := range snap.Referrals {
			fmt.Fprintf(stdout, "  referral %s → %s (%s): %s\n", r.ID(), r.To(), r.Level(), r.Status())
		}
	}
	return nil
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// parseAsOf reads a date (end of that day in loc) or an RFC 3339 instant;
// empty is now.
func parseAsOf(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return clock.Now(), nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("doorstep: -at %q: give YYYY-MM-DD or an RFC 3339 time / 日期格式无效", s)}
	}
	return t, nil
}
