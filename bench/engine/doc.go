// Package engine holds benchmarks of hamnflow's engine and command line:
// the engine's overhead per journaled step, `hamnflow history` on a big
// journal, and `hamnflow resume` up to its first step. They report figures
// and assert nothing; bench/run.sh runs them.
package engine
