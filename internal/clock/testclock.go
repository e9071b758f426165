//go:build doorstep_testclock

package clock

import (
	"fmt"
	"os"
	"time"
)

// TestBuild reports whether this build has the tag doorstep_testclock, so
// that tests which build the doorstep binary can build it the same way.
const TestBuild = true

var (
	base    time.Time // the instant in EnvVar; zero when unset
	started time.Time // when the process read it (monotonic)
)

func init() {
	t, err := parse(os.Getenv(EnvVar))
	if err != nil {
		panic(err)
	}
	base, started = t, time.Now()
}

// parse reads the value of EnvVar: empty is no override.
func parse(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: not an RFC 3339 instant such as 2026-12-30T10:00:00+08:00 (this is a doorstep_testclock test build; unset the variable to use the real clock)", EnvVar, v)
	}
	return t, nil
}

// Now is the instant in EnvVar plus the time elapsed since the process
// started, in the local time zone as time.Now is; time.Now when EnvVar is
// unset.
func Now() time.Time {
	if base.IsZero() {
		return time.Now()
	}
	return base.Add(time.Since(started)).Local()
}

// Offset is how far Now is ahead of time.Now (negative when behind); zero
// without an override.
func Offset() time.Duration {
	if base.IsZero() {
		return 0
	}
	return base.Sub(started)
}
