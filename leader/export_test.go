package leader

import "time"

// SetStopWarning sets how long a cancelled task may take to return before
// the log says it has not, and returns a function that restores it.
func SetStopWarning(d time.Duration) (restore func()) {
	old := stopWarning
	stopWarning = d
	return func() { stopWarning = old }
}
