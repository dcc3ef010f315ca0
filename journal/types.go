// Package journal owns hamnflow's durable record of runs: a bbolt file with a
// versioned layout, an append-only event log per run, and the per-cluster run
// lock. It implements workflow.Store and is the only package that imports
// bbolt.
package journal

// FormatVersion is the on-disk layout version written into every journal.
// A journal carrying another version is refused with ErrVersion.
const FormatVersion = 1
