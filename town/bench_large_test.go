//go:build large

package town

import "testing"

// The 100,000-household town, on demand: see bench_test.go for the command.

func BenchmarkGenerateTown100k(b *testing.B)    { benchGenerate(b, LargeHouseholds) }
func BenchmarkWriteSQLiteTown100k(b *testing.B) { benchWrite(b, LargeHouseholds) }
