package brokertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// NATSServerPath is the nats-server of the machine (Debian's package, the
// one that serves 127.0.0.1:4222).
const NATSServerPath = "/usr/sbin/nats-server"

// NATSServer is a private nats-server with JetStream on a port and store
// directory of its own, so that a test may stop and start it without
// disturbing the machine's server on 4222 or anyone else using it. It is
// stopped at the end of the test whatever happens.
type NATSServer struct {
	URL  string
	tb   testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartNATS starts a private server; it fails the test when nats-server is
// missing.
func StartNATS(tb testing.TB) *NATSServer {
	tb.Helper()
	if _, err := os.Stat(NATSServerPath); err != nil {
		tb.Fatalf("nats-server is not installed at %s (apt-get install nats-server): %v", NATSServerPath, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &NATSServer{tb: tb, port: port, dir: tb.TempDir(), URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	tb.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	s.Start()
	return s
}

// Start starts the server (again, on the same port and store) and waits
// until it accepts connections.
func (s *NATSServer) Start() {
	s.tb.Helper()
	if s.cmd != nil {
		s.tb.Fatal("brokertest: the NATS server is already running")
	}
	cmd := exec.Command(NATSServerPath, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-js", "-sd", filepath.Join(s.dir, "js"),
		"-l", filepath.Join(s.dir, "nats.log"))
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start nats-server: %v", err)
	}
	s.cmd = cmd
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if i == 300 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "nats.log"))
			s.tb.Fatalf("nats-server did not listen on %d: %v\n%s", s.port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server gracefully (SIGTERM: what it acknowledged is on
// disk) and waits for it to exit.
func (s *NATSServer) Stop() {
	s.tb.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.cmd = nil
}
