package command

// SetClearText turns the sealing of personal text off (true) or on: the
// baseline of BenchmarkSealedText, the service as it was before decision
// 0108.
func SetClearText(s *Service, clear bool) { s.clearText = clear }
