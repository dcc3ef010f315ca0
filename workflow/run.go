package workflow

import (
	"fmt"
	"strings"
	"time"
)

// RunStatus is the summary state of a run, derived by the engine and stored
// with the run so that history need not replay events.
type RunStatus string

// Run statuses.
const (
	RunRunning        RunStatus = "running"
	RunSucceeded      RunStatus = "succeeded"
	RunFailed         RunStatus = "failed"
	RunInterrupted    RunStatus = "interrupted"
	RunWaiting        RunStatus = "waiting" // parked until an operator decides
	RunRollingBack    RunStatus = "rolling-back"
	RunRolledBack     RunStatus = "rolled-back"
	RunRollbackFailed RunStatus = "rollback-failed"
)

// Run is the summary of one execution of a playbook.
type Run struct {
	ID        string            `json:"id"`
	Playbook  string            `json:"playbook"`
	Cluster   string            `json:"cluster"`
	Status    RunStatus         `json:"status"`
	StartedAt time.Time         `json:"started_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	EndedAt   time.Time         `json:"ended_at,omitzero"`
	By        Who               `json:"by"`
	PID       int               `json:"pid"`
	Params    map[string]string `json:"params,omitempty"`
	Steps     int               `json:"steps"`             // steps in the DAG (fan-out children not counted)
	Done      int               `json:"done"`              // steps ended succeeded or skipped
	Message   string            `json:"message,omitempty"` // why the run stopped, what to do next
}

// Source is what a run started from, recorded so that resume replays the
// same DAG even when the files on disk changed since.
type Source struct {
	PlaybookPath  string            `json:"playbook_path"`
	PlaybookText  string            `json:"playbook_text"`
	InventoryPath string            `json:"inventory_path,omitempty"`
	InventoryText string            `json:"inventory_text,omitempty"`
	Params        map[string]string `json:"params,omitempty"`
	Options       map[string]string `json:"options,omitempty"` // e.g. parallel=4, yes=true
	// Resolved is the playbook as composed for the cluster (JSON of a
	// Playbook): resume replays exactly this DAG.
	Resolved string `json:"resolved,omitempty"`
}

// EventType names one transition in a run's log.
type EventType string

// Event types. The engine appends them; nothing ever rewrites one.
const (
	EvRunStarted    EventType = "run-started"
	EvRunResumed    EventType = "run-resumed"
	EvRunEnded      EventType = "run-ended"
	EvStepStarted   EventType = "started"
	EvStepOutput    EventType = "output"
	EvStepSucceeded EventType = "succeeded"
	EvStepFailed    EventType = "failed"
	EvStepSkipped   EventType = "skipped"
	EvConfirmed     EventType = "confirmed"
	EvDeclined      EventType = "declined"
	EvWaiting       EventType = "waiting"
	EvInDoubt       EventType = "in-doubt"
	EvReconciled    EventType = "reconciled"
	EvReset         EventType = "reset"
	EvUndoStarted   EventType = "undo-started"
	EvUndone        EventType = "undone"
	EvUndoFailed    EventType = "undo-failed"
	EvInterrupted   EventType = "interrupted"
	EvFanOut        EventType = "fan-out"
	EvNote          EventType = "note"
	EvRollbackStart EventType = "rollback-started"
	EvRollbackEnded EventType = "rollback-ended"
)

// Who says which person (or flag) gave an answer.
type Who struct {
	User     string `json:"user,omitempty"`
	SudoUser string `json:"sudo_user,omitempty"`
	TTY      string `json:"tty,omitempty"`
	Host     string `json:"host,omitempty"`
	Via      string `json:"via,omitempty"` // "prompt", "--yes", "--assume-done", ...
}

// Event is one entry of a run's append-only log.
type Event struct {
	Seq       uint64              `json:"seq"` // assigned by Append, 1-based, per run
	Time      time.Time           `json:"time"`
	Type      EventType           `json:"type"`
	Step      string              `json:"step,omitempty"` // step id; fan-out children are "parent[key]"
	Attempt   int                 `json:"attempt,omitempty"`
	Host      string              `json:"host,omitempty"`
	Command   string              `json:"command,omitempty"` // as shown to people: secrets masked
	Message   string              `json:"message,omitempty"`
	Exit      *int                `json:"exit,omitempty"`
	Stdout    string              `json:"stdout,omitempty"`
	Stderr    string              `json:"stderr,omitempty"`
	Truncated bool                `json:"truncated,omitempty"`
	Outputs   map[string]string   `json:"outputs,omitempty"` // typed values a step produced, as text
	Items     []map[string]string `json:"items,omitempty"`   // list a step produced, for fan-out
	Duration  time.Duration       `json:"duration,omitempty"`
	By        *Who                `json:"by,omitempty"`
	Decision  string              `json:"decision,omitempty"` // for in-doubt/reconciled: "done", "redo"
}

// Filter selects runs for Runs. Zero values match everything.
type Filter struct {
	Playbook string
	Cluster  string
	Status   RunStatus
	Since    time.Time
	Limit    int // 0: no limit
}

// Holder describes the process that holds a cluster's run lock.
type Holder struct {
	RunID string    `json:"run_id,omitempty"`
	User  string    `json:"user"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// LockedError says that another process holds a cluster's run lock.
type LockedError struct {
	Cluster string
	Holder  Holder // zero if its record could not be read
	Path    string // the lock file, or where the lock lives
	// Lease, when not zero, says the lock is a lease (the etcd journal's)
	// that lapses this long after its holder stops renewing it.
	Lease time.Duration
}

func (e *LockedError) Error() string {
	h := e.Holder
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s is being worked on by ", e.Cluster)
	if h.PID == 0 && e.Lease > 0 {
		fmt.Fprintf(&b, "another hamnflow process (no holder recorded in %s yet); wait for it to end, and retry: its lock lapses %s after that process stops renewing it", e.Path, e.Lease)
		return b.String()
	}
	if h.PID == 0 {
		fmt.Fprintf(&b, "another hamnflow process (no holder recorded in %s yet); wait for it to end, and find it with `fuser %s`", e.Path, e.Path)
		return b.String()
	}
	if h.RunID != "" {
		fmt.Fprintf(&b, "run %s of ", h.RunID)
	}
	fmt.Fprintf(&b, "%s@%s (pid %d)", h.User, h.Host, h.PID)
	if !h.Since.IsZero() {
		fmt.Fprintf(&b, " since %s", h.Since.UTC().Format(time.RFC3339))
	}
	if e.Lease > 0 {
		fmt.Fprintf(&b, "; wait for it to end or, if that process is gone or hung, make sure pid %d no longer runs on %s (stop it if it hangs) and retry after %s: the lock in %s is a lease that lapses %s after its process stops renewing it, and is released at once when it ends", h.PID, h.Host, e.Lease, e.Path, e.Lease)
		return b.String()
	}
	fmt.Fprintf(&b, "; wait for it to end or, if that process is gone or hung, make sure pid %d no longer runs on %s (stop it if it hangs) and retry: the lock %s is released as soon as its process exits", h.PID, h.Host, e.Path)
	return b.String()
}
