// Package layout holds no code: its tests enforce the package layout of
// decision 0064 on the source tree, without building it.
//
//   - Every package of the module has a layer (layers, in layout_test.go),
//     and imports only packages of a lower layer: arrows point inward, so
//     there is no cycle and no package imports one above it. A new package
//     fails the test until it is given a layer.
//   - domain imports nothing of ours but its own subpackages' parent; the
//     eventstore contract imports only domain; a backend never imports a
//     sibling backend.
//   - The read side (projections/…) never imports the write side (command),
//     a process manager or the edge (http); nothing imports cmd/…, scripts/…,
//     http or console but the binary; code that ships never imports a test
//     helper.
//   - Building an event's envelope and folding a stream into an aggregate
//     happen in eventlog only.
//   - Code that ships takes its context from the caller: the few files
//     that start from context.Background() are listed with the reason.
//   - Every local link in README.md, BENCHMARKS.md and docs/ names a file
//     of the repository.
//
// Decision 0130 records why these rules are a test.
package layout
