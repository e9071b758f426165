//go:build !doorstep_testclock

package clock

import "time"

// TestBuild reports whether this build has the tag doorstep_testclock, so
// that tests which build the doorstep binary can build it the same way.
const TestBuild = false

// Now is time.Now.
func Now() time.Time { return time.Now() }

// Offset is how far Now is ahead of time.Now: always zero in this build.
func Offset() time.Duration { return 0 }
