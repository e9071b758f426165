package clock_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
)

// TestPrintNow is a helper run as a child process by TestEnvVar: it prints
// clock.Now as RFC 3339.
func TestPrintNow(t *testing.T) {
	if os.Getenv("CLOCK_TEST_CHILD") != "1" {
		t.Skip("a helper for TestEnvVar, run as a child process")
	}
	fmt.Printf("now=%s\n", clock.Now().Format(time.RFC3339Nano))
}

// child runs TestPrintNow in a child process with DOORSTEP_TEST_CLOCK set
// to v and returns its output and error.
func child(t *testing.T, v string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrintNow$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLOCK_TEST_CHILD=1", clock.EnvVar+"="+v)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func childNow(t *testing.T, out string) time.Time {
	t.Helper()
	i := strings.Index(out, "now=")
	if i < 0 {
		t.Fatalf("the child printed no instant:\n%s", out)
	}
	line, _, _ := strings.Cut(out[i+4:], "\n")
	at, err := time.Parse(time.RFC3339Nano, line)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestEnvVar: a test build follows DOORSTEP_TEST_CLOCK and refuses a bad
// value at start; a normal build ignores the variable.
func TestEnvVar(t *testing.T) {
	const set = "2027-03-01T10:00:00+08:00"
	want, _ := time.Parse(time.RFC3339, set)
	before := time.Now()
	out, err := child(t, set)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := childNow(t, out)
	if clock.TestBuild {
		if got.Before(want) || got.After(want.Add(time.Since(before))) {
			t.Errorf("test build with %s=%s: Now is %s, want that instant plus the time the child ran", clock.EnvVar, set, got)
		}
	} else if got.Before(before) || got.After(time.Now()) {
		t.Errorf("normal build: Now is %s with %s=%s set; want the real time, between %s and %s", got, clock.EnvVar, set, before, time.Now())
	}

	out, err = child(t, "2027-03-01")
	if clock.TestBuild {
		if err == nil || !strings.Contains(out, clock.EnvVar) || !strings.Contains(out, "RFC 3339") {
			t.Errorf("test build with %s=2027-03-01 (no time): want a failure at start naming the variable; err %v:\n%s", clock.EnvVar, err, out)
		}
	} else if err != nil {
		t.Errorf("normal build with %s=2027-03-01: the variable must be ignored; err %v:\n%s", clock.EnvVar, err, out)
	}
}

// TestNowAdvances: Now moves forward with real time, and Offset is the
// distance between Now and time.Now.
func TestNowAdvances(t *testing.T) {
	a := clock.Now()
	time.Sleep(20 * time.Millisecond)
	b := clock.Now()
	if d := b.Sub(a); d < 20*time.Millisecond || d > 10*time.Second {
		t.Errorf("Now advanced by %s over a 20 ms sleep", d)
	}
	if d := time.Until(clock.Now()) - clock.Offset(); d < -time.Second || d > time.Second {
		t.Errorf("Now - time.Now differs from Offset by %s", d)
	}
	if os.Getenv(clock.EnvVar) == "" && clock.Offset() != 0 {
		t.Errorf("Offset is %s with %s unset", clock.Offset(), clock.EnvVar)
	}
}
