// Package storetest has what tests of workflow.Store need: an in-memory
// store, a wrapper that makes a store fail on demand, and the conformance
// tests every Store implementation must pass.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// Mem is a workflow.Store in memory, safe for concurrent use. It copies
// what it stores and what it returns, as a store on disk does.
type Mem struct {
	mu     sync.Mutex
	runs   map[string]workflow.Run
	srcs   map[string]workflow.Source
	events map[string][]workflow.Event
	locks  map[string]*workflow.Holder
}

var _ workflow.Store = (*Mem)(nil)

// NewMem returns an empty store.
func NewMem() *Mem {
	return &Mem{runs: map[string]workflow.Run{}, srcs: map[string]workflow.Source{},
		events: map[string][]workflow.Event{}, locks: map[string]*workflow.Holder{}}
}

// CreateRun implements workflow.Store.
func (m *Mem) CreateRun(r workflow.Run, src workflow.Source) (workflow.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC().Round(0)
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	if r.ID != "" {
		if _, ok := m.runs[r.ID]; ok {
			return workflow.Run{}, fmt.Errorf("run %s already exists", r.ID)
		}
	}
	for r.ID == "" || m.runs[r.ID].ID != "" {
		var b [2]byte
		rand.Read(b[:])
		r.ID = r.StartedAt.Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
	}
	m.runs[r.ID] = copyOf(r)
	m.srcs[r.ID] = copyOf(src)
	m.events[r.ID] = nil
	return copyOf(r), nil
}

// Append implements workflow.Store.
func (m *Mem) Append(runID string, update func(*workflow.Run), evs ...workflow.Event) ([]workflow.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("no run %q", runID)
	}
	r = copyOf(r)
	now := time.Now().UTC().Round(0)
	log := m.events[runID]
	out := make([]workflow.Event, len(evs))
	for i, ev := range evs {
		ev = copyOf(ev)
		ev.Seq = uint64(len(log) + i + 1)
		if ev.Time.IsZero() {
			ev.Time = now
		}
		out[i] = ev
	}
	if update != nil {
		update(&r)
		r.ID = runID
	}
	r.UpdatedAt = now
	m.runs[runID] = r
	for _, ev := range out {
		m.events[runID] = append(m.events[runID], copyOf(ev))
	}
	return out, nil
}

func (m *Mem) resolve(id string) (string, error) {
	if _, ok := m.runs[id]; ok {
		return id, nil
	}
	var found []string
	for k := range m.runs {
		if len(id) >= 4 && strings.HasPrefix(k, id) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("no run %q (%d match)", id, len(found))
	}
	return found[0], nil
}

// Run implements workflow.Store.
func (m *Mem) Run(id string) (workflow.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.resolve(id)
	if err != nil {
		return workflow.Run{}, err
	}
	return copyOf(m.runs[k]), nil
}

// Source implements workflow.Store.
func (m *Mem) Source(id string) (workflow.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.resolve(id)
	if err != nil {
		return workflow.Source{}, err
	}
	return copyOf(m.srcs[k]), nil
}

// Events implements workflow.Store.
func (m *Mem) Events(id string) ([]workflow.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.resolve(id)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.Event, 0, len(m.events[k]))
	for _, ev := range m.events[k] {
		out = append(out, copyOf(ev))
	}
	return out, nil
}

// Runs implements workflow.Store.
func (m *Mem) Runs(f workflow.Filter) ([]workflow.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := slices.Sorted(maps.Keys(m.runs))
	slices.Reverse(ids)
	var out []workflow.Run
	for _, id := range ids {
		r := m.runs[id]
		if !f.Match(&r) {
			continue
		}
		out = append(out, copyOf(r))
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Lock implements workflow.Store: one holder per cluster in this process.
func (m *Mem) Lock(cluster string, h workflow.Holder) (workflow.Lock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if held := m.locks[cluster]; held != nil {
		return nil, &workflow.LockedError{Cluster: cluster, Holder: *held, Path: "memory"}
	}
	if h.Since.IsZero() {
		h.Since = time.Now().UTC()
	}
	m.locks[cluster] = &h
	return &memLock{m: m, cluster: cluster, h: &h}, nil
}

type memLock struct {
	m       *Mem
	cluster string
	h       *workflow.Holder
	done    bool
}

func (l *memLock) SetRun(id string) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.done {
		return fmt.Errorf("lock of cluster %s was released", l.cluster)
	}
	l.h.RunID = id
	return nil
}

func (l *memLock) Release() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if !l.done && l.m.locks[l.cluster] == l.h {
		delete(l.m.locks, l.cluster)
	}
	l.done = true
	return nil
}

// copyOf deep-copies a record through JSON, as a store on disk would.
func copyOf[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
