// Package pgtest runs a private, throw-away PostgreSQL server for tests that
// must stop and start the database (outage tests) without disturbing the
// machine's shared server that other tests use at the same time.
//
// It uses the PostgreSQL binaries installed on the machine (initdb, pg_ctl).
// PostgreSQL refuses to run as root, so when the test runs as root the
// server runs as the "postgres" user through runuser.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a private PostgreSQL instance.
type Server struct {
	Port    int
	dir     string
	bin     string
	asUser  string
	started bool
}

// binDir finds the newest installed PostgreSQL's bin directory.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("pgtest: no PostgreSQL binaries under /usr/lib/postgresql/*/bin; install the postgresql package")
}

// Start creates a fresh cluster in a temporary directory, starts it on a
// free port and registers its removal with t.Cleanup. It fails the test
// when PostgreSQL cannot run here.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{bin: bin}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		s.asUser = "postgres"
	}
	s.dir, err = os.MkdirTemp("", "doorstep-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if s.asUser != "" {
		if out, err := exec.Command("chown", s.asUser, s.dir).CombinedOutput(); err != nil {
			t.Fatalf("pgtest: chown %s: %v %s", s.dir, err, out)
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Port = freePort(t)
	t.Cleanup(func() { s.stop("immediate") })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the connection string of the server's "postgres" database.
func (s *Server) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.Port) + "/postgres?sslmode=disable"
}

// Start starts the (stopped) server and waits until it accepts connections.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on", s.Port, s.dir)
	out, err := s.cmd("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pgtest: start: %v\n%s\n%s", err, out, log)
	}
	s.started = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.URL())
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: server did not accept connections: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server the way an outage would: fast shutdown, open
// connections are cut.
func (s *Server) Stop() error { return s.stop("fast") }

func (s *Server) stop(mode string) error {
	if !s.started {
		return nil
	}
	out, err := s.cmd("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", mode, "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: stop: %v\n%s", err, out)
	}
	s.started = false
	return nil
}

// SharedEnv is the environment variable that points the tests at another
// PostgreSQL server than the local one.
const SharedEnv = "DOORSTEP_TEST_POSTGRES"

// SharedURL is the machine's shared PostgreSQL server the tests use:
// SharedEnv, or the local server's test database.
func SharedURL() string {
	if u := os.Getenv(SharedEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Connect connects to SharedURL, closed at the end of the test. When the
// server cannot be reached it fails the test (never skips), saying how to
// start it.
func Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, SharedURL())
	if err != nil {
		tb.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"(./scripts/test does this), or point %s at a server (trust auth, an existing database)", SharedURL(), err, SharedEnv)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
