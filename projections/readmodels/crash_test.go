package readmodels_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/readmodels"
)

// crashChildEnv, when set to a directory, turns the test binary into the
// crash test's child: it applies the log in that directory to the read
// models until it is killed (or done). The read models are the SQLite file
// beside the log, or, when crashSchemaEnv names one, that PostgreSQL schema
// (the parent's testenv.Env.Schema).
const (
	crashChildEnv  = "DOORSTEP_PROJECTIONS_CRASH_CHILD"
	crashSchemaEnv = "DOORSTEP_PROJECTIONS_CRASH_SCHEMA"
)

// slow widens the window in which a kill lands inside a batch: it writes a
// row per event (a plain INSERT keyed by position, so a repeat fails) and
// then sleeps before the engine commits.
type slow struct{}

func (slow) Name() string     { return "crash_probe" }
func (slow) Tables() []string { return []string{"crash_probe"} }
func (slow) Schema() []string {
	return []string{`CREATE TABLE IF NOT EXISTS crash_probe (lo BIGINT PRIMARY KEY, stream TEXT NOT NULL)`}
}
func (slow) Apply(ctx context.Context, tx *projections.Tx, batch []projections.Envelope) error {
	for i := range batch {
		if err := tx.Exec(ctx, `INSERT INTO crash_probe (lo, stream) VALUES (?, ?)`, int64(batch[i].Position.Lo), batch[i].Stream); err != nil {
			return err
		}
	}
	time.Sleep(15 * time.Millisecond)
	return nil
}

func crashProjections() ([]projections.Projection, error) {
	pol, err := domain.DefaultPolicy()
	if err != nil {
		return nil, err
	}
	ps, err := domain.NewPolicySet(pol)
	if err != nil {
		return nil, err
	}
	cal, err := calendar.Default()
	if err != nil {
		return nil, err
	}
	return append(readmodels.AllOpened(ps, cal, cal.Location(), nil, sim.NewKeys()), slow{}), nil
}

func crashChild(dir string) {
	ctx := context.Background()
	fail := func(what string, err error) {
		fmt.Fprintln(os.Stderr, "child:", what+":", err)
		os.Exit(2)
	}
	path := filepath.Join(dir, "events.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		fail("open store", err)
	}
	var db *sql.DB
	dialect := projections.SQLite
	if schema := os.Getenv(crashSchemaEnv); schema != "" {
		dialect = projections.Postgres
		db, err = testenv.OpenPostgres(ctx, schema)
	} else {
		db, err = projections.OpenSQLite(ctx, projections.ReadModelPath(path))
	}
	if err != nil {
		fail("open read models", err)
	}
	ps, err := crashProjections()
	if err != nil {
		fail("policies", err)
	}
	eng, err := projections.New(projections.Config{DB: db, Dialect: dialect, Store: s, BatchSize: 100}, ps...)
	if err != nil {
		fail("engine", err)
	}
	if err := eng.Init(ctx); err != nil {
		fail("init", err)
	}
	fmt.Println("ready")
	// One line per batch, printed after it is applied and before it is
	// committed: the parent knows a batch of this run is committed once it
	// has seen the next one's line.
	applied := func(projections.Progress) { fmt.Println("applied") }
	if _, err := eng.CatchUp(ctx, applied); err != nil {
		fail("catch up", err)
	}
	fmt.Println("done")
	os.Exit(0)
}

// A process killed (SIGKILL) in the middle of a batch resumes without
// applying any event twice or skipping one: after several kills, the read
// models equal a build from scratch, and the probe table's plain INSERTs
// never collide.
func TestKilledMidBatchResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := testenv.NewAt(t, dir)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 300, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	head, err := env.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	midway := 0
	for k := 0; k < 12; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashSchemaEnv+"="+env.Schema)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not start: %q %v; stderr: %s", k, line, err, stderr.String())
		}
		// Kill only a child that has made progress in this run: wait
		// until it has committed a batch (it reports the second batch
		// applied), however long a loaded machine takes, then a random
		// moment more so that the kill lands anywhere in a batch.
		finished := false
		for batches := 0; batches < 2 && !finished; {
			line, err := r.ReadString('\n')
			if err != nil {
				cmd.Wait()
				t.Fatalf("kill %d: child stopped before committing a batch: %v; stderr: %s", k, err, stderr.String())
			}
			switch line {
			case "applied\n":
				batches++
			case "done\n":
				finished = true
			default:
				t.Fatalf("kill %d: child printed %q", k, line)
			}
		}
		if !finished {
			time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			rest, _ := io.ReadAll(r)
			finished = strings.HasSuffix(string(rest), "done\n")
		}
		err = cmd.Wait()
		if finished {
			break
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: child ended on its own (%v): %s", k, err, stderr.String())
		}
		midway++
	}
	if midway < 3 {
		t.Fatalf("only %d kills landed before the child finished; the test did not exercise a crash", midway)
	}
	ps, err := crashProjections()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// The children committed batches into this environment's read models
	// (the SQLite file or the PostgreSQL schema), so the resume continues
	// their work rather than starting over.
	if _, n, err := eng.Checkpoint(ctx, "crash_probe"); err != nil || n == 0 {
		t.Fatalf("after %d kills the children committed %d events to the read models (%v)", midway, n, err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatalf("resume after %d kills: %v", midway, err)
	}
	for _, name := range eng.Projections() {
		pos, n, err := eng.Checkpoint(ctx, name)
		if err != nil || pos != head {
			t.Fatalf("%s checkpoint %s, want %s (%v)", name, pos, head, err)
		}
		_ = n
	}
	resumed := dumpAll(t, env, ps)

	// A build from scratch in a fresh read-model database.
	fresh, freshDialect := testenv.ReadModels(t, filepath.Join(t.TempDir(), "fresh.db"))
	ps2, _ := crashProjections()
	eng2, err := projections.New(projections.Config{DB: fresh, Dialect: freshDialect, Store: env.Store, BatchSize: 777}, ps2...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng2.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	scratch, err := projections.Dump(ctx, fresh, readmodels.Tables(ps2)...)
	if err != nil {
		t.Fatal(err)
	}
	if resumed != scratch {
		t.Fatalf("after %d kills the read models differ from a build from scratch: %s", midway, firstDiff(scratch, resumed))
	}
	t.Logf("%d kills mid-run; read models equal a build from scratch", midway)
}
