package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/town"
)

// runDemo is `doorstep demo`: it generates the synthetic town (2,155
// households by default) into the data directory on first start, adds the
// quick-start household "demo-zhang" (张奶奶), brings the read models up to
// date and serves the API.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := addServeFlags(fs, "doorstep-demo")
	seed := fs.Uint64("seed", 2155, "seed of the synthetic town (the same seed gives the same town) / 合成城镇的随机种子")
	households := fs.Int("households", town.SeedHouseholds, "households in the town / 城镇户数")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	return serve(ctx, f, stdout, stderr, func(ctx context.Context, rt *runtime) error {
		head, err := rt.store.Head(ctx)
		if err != nil {
			return err
		}
		lay, err := town.NewLayout(town.DefaultConfig(*seed, *households))
		if err != nil {
			return err
		}
		if head.IsZero() {
			if err := generateTown(ctx, rt, *seed, *households, clock.Now(), stdout); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(stdout, "using the town already in %s / 使用已有的合成城镇数据\n", rt.dir)
		}
		// Each community's secretary supervises it, recorded in the log,
		// where the deadline watcher looks a community's supervisor up.
		sec := map[string]string{DemoCommunity: "王书记"}
		for _, c := range lay.Communities {
			if c.Secretary != nil {
				sec[c.Name] = c.Secretary.Actor
			}
		}
		if err := assignSupervisors(ctx, rt, sec); err != nil {
			return err
		}
		if err := assignDepartmentSupervisors(ctx, rt, town.DepartmentSupervisors()); err != nil {
			return err
		}
		if err := demoHousehold(ctx, rt); err != nil {
			return err
		}
		if rt.watcher != nil {
			// Record the alerts already due, so the first queries see them.
			if err := rt.watcher.Sync(ctx); err != nil {
				return err
			}
			n, err := rt.watcher.Fire(ctx, clock.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d deadline alerts recorded / 已记录 %d 条期限提醒\n", n, n)
		}
		fmt.Fprintln(stdout, "bringing the read models up to date / 正在更新读模型")
		_, err = rt.engine.CatchUp(ctx, progressFunc(stderr, "read models / 读模型"))
		return err
	})
}

// generateTown writes the synthetic town, simulated from the start of this
// year up to today (now). The simulation computes working-day deadlines, so
// its history stops at the end of the calendar's last year when today lies
// beyond it.
func generateTown(ctx context.Context, rt *runtime, seed uint64, n int, now time.Time, stdout io.Writer) error {
	cfg := town.DefaultConfig(seed, n)
	cfg.Sealer = rt.vault
	cfg.Calendar = rt.cal
	loc := rt.cal.Location()
	now = now.In(loc)
	cfg.Location = loc
	cfg.End = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if ys := rt.cal.Years(); len(ys) > 0 && now.Year() > ys[len(ys)-1] {
		last := ys[len(ys)-1]
		cfg.End = time.Date(last, 12, 31, 0, 0, 0, 0, loc)
		fmt.Fprintf(stdout, "the working-day calendar ends with %d: the town's history stops on %s; load later years with -calendar FILE / 工作日历只到 %d 年：合成城镇的历史截至 %s；可用 “-calendar 文件” 加载之后的年份\n",
			last, cfg.End.Format(time.DateOnly), last, cfg.End.Format(time.DateOnly))
	}
	cfg.Start = time.Date(cfg.End.Year(), 1, 1, 0, 0, 0, 0, loc)
	if !cfg.End.After(cfg.Start.AddDate(0, 1, 0)) {
		cfg.Start = cfg.End.AddDate(-1, 0, 0)
	}
	fmt.Fprintf(stdout, "generating a town of %d households (seed %d, %s to %s) / 正在生成合成城镇\n",
		n, seed, cfg.Start.Format(time.DateOnly), cfg.End.Format(time.DateOnly))
	start := time.Now()
	st, err := town.Write(ctx, rt.store, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "town written in %s: %d households, %d members, %d visits, %d problems, %d referrals, %d events / 已生成\n",
		time.Since(start).Round(time.Millisecond), st.Households, st.Members, st.Visits, st.Problems, st.Referrals, st.Events)
	return nil
}

// DemoHousehold is the household the quick start uses: 张奶奶, 78, living
// alone (docs/DOMAIN.md stories), in community 示范社区, grid 示范网格.
const (
	DemoHousehold = "demo-zhang"
	DemoCommunity = "示范社区"
	DemoGrid      = "示范网格"
)

// demoHousehold registers the quick-start household once (idempotent
// command ids make a restart a no-op).
func demoHousehold(ctx context.Context, rt *runtime) error {
	c := func(id string) command.Cmd {
		return command.Cmd{ID: "demo-" + id, Actor: "demo", Role: domain.RoleGridWorker}
	}
	if _, err := rt.app.RegisterHousehold(ctx, c("register"), DemoHousehold, domain.RegisterHousehold{
		Address: "幸福路 8 号 3 单元 601", Community: DemoCommunity, Grid: DemoGrid, ResponsibleWorker: "李四",
		Class: domain.ClassSpecial, Risk: domain.RiskYellow}); err != nil {
		return fmt.Errorf("demo household: %w", err)
	}
	if _, err := rt.app.AddMember(ctx, c("member"), DemoHousehold, "zhang-nainai", command.Member{Name: "张奶奶", Relation: "本人", BirthDate: "1948-03-12"}); err != nil {
		return fmt.Errorf("demo household: %w", err)
	}
	return nil
}

// progressFunc draws a progress bar for a catch-up or rebuild on w.
// schollz/progressbar: a maintained terminal bar with rate and ETA that
// degrades to plain lines when w is not a terminal.
func progressFunc(w io.Writer, what string) func(projections.Progress) {
	var bar *progressbar.ProgressBar
	return func(p projections.Progress) {
		if bar == nil {
			total := p.Total
			if total <= 0 {
				total = -1
			}
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
				progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
				progressbar.OptionSetWidth(30))
		}
		_ = bar.Set64(p.Count)
		if p.Total >= 0 && p.Count >= p.Total {
			_ = bar.Finish()
		}
	}
}

// assignSupervisors records, through the command path, that each
// community of sec is supervised by the person named. A community already
// supervised by someone (a demo started again) is left as it is.
func assignSupervisors(ctx context.Context, rt *runtime, sec map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(sec)) {
		cur, err := rt.app.CommunitySupervisor(ctx, name)
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		if _, err := rt.app.AssignCommunitySupervisor(ctx, command.Cmd{ID: "demo-supervisor-" + name, Actor: "demo", Role: domain.RoleAdmin},
			name, sec[name], "demo town / 演示城镇"); err != nil {
			return fmt.Errorf("demo: assign the supervisor of %s: %w", name, err)
		}
	}
	return nil
}

// assignDepartmentSupervisors records, through the command path, who
// supervises each receiving department of the town (the watcher names them
// on the alerts of referrals addressed to it). A department already
// supervised (a demo started again) is left as it is.
func assignDepartmentSupervisors(ctx context.Context, rt *runtime, sup map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(sup)) {
		cur, err := rt.app.DepartmentSupervisor(ctx, name)
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		if _, err := rt.app.AssignDepartmentSupervisor(ctx, command.Cmd{ID: "demo-department-supervisor-" + name, Actor: "demo", Role: domain.RoleAdmin},
			name, sup[name], "demo town / 演示城镇"); err != nil {
			return fmt.Errorf("demo: assign the supervisor of %s: %w", name, err)
		}
	}
	return nil
}
