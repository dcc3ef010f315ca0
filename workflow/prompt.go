package workflow

import (
	"context"
	"errors"
)

// Choice is an operator's answer.
type Choice string

// Choices an operator may be offered.
const (
	Yes        Choice = "yes"         // run this step
	Skip       Choice = "skip"        // do not run it; steps that need it go on
	All        Choice = "all"         // run it and stop asking (steps marked confirm still ask)
	Abort      Choice = "abort"       // stop the run here; resume later
	AssumeDone Choice = "assume-done" // an in-doubt step: its effect is in place
	Redo       Choice = "redo"        // an in-doubt step: run it again
)

// Question is what the engine asks an operator.
type Question struct {
	RunID   string
	Step    string
	Title   string
	Host    string
	Command string // secrets masked
	Reason  string // why the engine asks
	Details string // shown on request: probe, undo, timeout, retries
	Choices []Choice
}

// Answer is an operator's decision and who gave it.
type Answer struct {
	Choice Choice
	By     Who
}

// Prompter asks an operator. It returns ErrNoOperator when nobody can be
// asked (no terminal); the engine then parks the run as waiting.
type Prompter interface {
	Ask(ctx context.Context, q Question) (Answer, error)
}

// ErrNoOperator means no operator can answer here.
var ErrNoOperator = errors.New("no operator at a terminal")

// NoOperator is the Prompter for runs without a terminal.
type NoOperator struct{}

// Ask always returns ErrNoOperator.
func (NoOperator) Ask(context.Context, Question) (Answer, error) { return Answer{}, ErrNoOperator }
