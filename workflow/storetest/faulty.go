package storetest

import (
	"errors"
	"sync"

	"github.com/hamnflow/hamnflow/workflow"
)

// ErrInjected is the error a Faulty store fails with.
var ErrInjected = errors.New("injected journal failure: no space left on device")

// Faulty wraps a store and fails its writes while Fail says so. Appends
// are counted from 1 across the store's life, failed ones included.
type Faulty struct {
	workflow.Store

	mu      sync.Mutex
	appends int
	// Fail decides whether the n-th Append fails; nil never fails.
	Fail func(n int, evs []workflow.Event) bool
}

// Append implements workflow.Store.
func (f *Faulty) Append(runID string, update func(*workflow.Run), evs ...workflow.Event) ([]workflow.Event, error) {
	f.mu.Lock()
	f.appends++
	n, fail := f.appends, f.Fail
	f.mu.Unlock()
	if fail != nil && fail(n, evs) {
		return nil, ErrInjected
	}
	return f.Store.Append(runID, update, evs...)
}

// Appends says how many Appends were tried.
func (f *Faulty) Appends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.appends
}

// SetFail replaces the failure rule.
func (f *Faulty) SetFail(fail func(n int, evs []workflow.Event) bool) {
	f.mu.Lock()
	f.Fail = fail
	f.mu.Unlock()
}
