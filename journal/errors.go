package journal

import (
	"errors"
	"fmt"
)

// Errors returned by the journal, to be tested with errors.Is. The errors
// actually returned carry the journal path, the run id where there is one,
// and what the operator should do.
var (
	// ErrNotJournal: the file is not a hamnflow journal (not a bbolt
	// database, or one written by another application).
	ErrNotJournal = errors.New("not a hamnflow journal")
	// ErrVersion: the journal has a layout version this hamnflow does not
	// understand.
	ErrVersion = errors.New("unsupported journal version")
	// ErrCorrupt: the journal is empty, truncated or damaged. hamnflow never
	// writes to such a file.
	ErrCorrupt = errors.New("journal damaged")
	// ErrNotFound: no run with that id (or id prefix).
	ErrNotFound = errors.New("run not found")
)

// keepIt is the advice for a journal that cannot be used.
const keepIt = "keep the file for inspection (hamnflow will not modify it) and point --journal at a new path, or restore the journal from a backup"

// kindError is an error of one of the kinds above with its own message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// errorf formats an error of the given kind; %w in format wraps a cause.
func errorf(kind error, format string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, a...)}
}

// corrupt reports a damaged journal at path.
func corrupt(path string, cause any) error {
	return errorf(ErrCorrupt, "journal %s is damaged: %v; %s", path, cause, keepIt)
}
