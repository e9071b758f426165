package eventstore

import "fmt"

// ExpectedVersion states what the caller believes about a stream before an
// append. It is a sealed type: use Any, NoStream, StreamExists or Exact.
//
// Stream versions count events: an empty stream is at version 0, its first
// event has version 1.
type ExpectedVersion interface {
	// check reports whether a stream currently at version actual (0 when it
	// does not exist) satisfies the expectation.
	check(actual uint64) bool
	fmt.Stringer
}

type anyVersion struct{}
type noStream struct{}
type streamExists struct{}
type exactVersion uint64

func (anyVersion) check(uint64) bool       { return true }
func (noStream) check(a uint64) bool       { return a == 0 }
func (streamExists) check(a uint64) bool   { return a > 0 }
func (e exactVersion) check(a uint64) bool { return a == uint64(e) }
func (anyVersion) String() string          { return "any" }
func (noStream) String() string            { return "no stream" }
func (streamExists) String() string        { return "stream exists" }
func (e exactVersion) String() string      { return fmt.Sprintf("version %d", uint64(e)) }

// Any accepts the stream in whatever state it is.
func Any() ExpectedVersion { return anyVersion{} }

// NoStream requires that the stream has no events yet.
func NoStream() ExpectedVersion { return noStream{} }

// StreamExists requires that the stream has at least one event.
func StreamExists() ExpectedVersion { return streamExists{} }

// Exact requires the stream to be at exactly version v. Exact(0) is NoStream.
func Exact(v uint64) ExpectedVersion {
	if v == 0 {
		return noStream{}
	}
	return exactVersion(v)
}

// Satisfied reports whether a stream at version actual meets e. Backends call
// it inside their append transaction.
func Satisfied(e ExpectedVersion, actual uint64) bool {
	if e == nil {
		return true
	}
	return e.check(actual)
}
