// Package runlock leaves a run's mark on the management nodes: when a run
// takes its cluster's lock in a journal whose lock belongs to one machine
// (the bbolt journal's flock), it writes a marker file on every MN of the
// inventory it can reach, naming the holder, the run, the cluster and a
// heartbeat it refreshes while it runs. A second hamnflow, on any host and
// with any journal, reads the markers before it runs and refuses while one
// of another run is live.
//
// The markers go through the remote transport (an Execer: steps/remote's
// Transport), one small shell script each with the marker on its standard
// input, written atomically (a temporary file, then ln or mv) and only if
// the marker there is still the one that was read, so that two hamnflows
// starting at once cannot both win an MN. The package knows nothing of
// the engine beyond workflow's Store, Lock and Holder types.
package runlock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// DefaultPath is where the marker lives on each MN.
const DefaultPath = "/var/lib/hamnflow/run-lock.json"

// Defaults of a Guard.
const (
	DefaultLive   = 2 * time.Minute  // a heartbeat younger than this is a live run
	DefaultEvery  = 30 * time.Second // the run refreshes its heartbeat this often
	DefaultBudget = 5 * time.Second  // connect and run, per MN and marker operation
)

// Execer runs a command on a host: remote.Transport, or a fake in tests.
type Execer interface {
	Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error)
}

// Marker is what a run leaves on an MN. It holds no secrets.
type Marker struct {
	Version   int       `json:"version"`
	Cluster   string    `json:"cluster"`
	RunID     string    `json:"run_id,omitempty"`
	User      string    `json:"user"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
	// Journal is the journal file of the run on Host: where to resume it.
	Journal string `json:"journal,omitempty"`
	// Token tells this holder's marker from any other's.
	Token string `json:"token"`
}

func (m Marker) String() string {
	var b strings.Builder
	if m.RunID != "" {
		fmt.Fprintf(&b, "run %s of ", m.RunID)
	}
	fmt.Fprintf(&b, "%s@%s (pid %d)", m.User, m.Host, m.PID)
	if !m.Since.IsZero() {
		fmt.Fprintf(&b, " since %s", m.Since.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// Found is a marker read on an MN.
type Found struct {
	MN     string
	Marker Marker
	Age    time.Duration // since its heartbeat
}

// Guard checks and writes the markers of one cluster's MNs.
type Guard struct {
	Exec  Execer
	Hosts []remote.Host // the MNs: primary and standby
	Path  string        // "" is DefaultPath
	// Live, Every and Budget default to DefaultLive, DefaultEvery and
	// DefaultBudget.
	Live, Every, Budget time.Duration
	// Force takes over live markers of other runs once Confirm says the
	// operator confirmed that their holders are dead.
	Force   bool
	Confirm func(ctx context.Context, live []Found) (bool, error)
	// Note, if set, is told what the operator should know and what does
	// not stop the run: an unreachable MN, a stale marker taken over.
	Note func(msg string)
	// Timed, if set, is told how long each marker operation took on all
	// MNs together (read, write, refresh, remove).
	Timed func(what string, took time.Duration)
	// Journal names the run's journal in the marker.
	Journal string
	Now     func() time.Time // time.Now if nil
}

func (g *Guard) path() string          { return or(g.Path, DefaultPath) }
func (g *Guard) live() time.Duration   { return orD(g.Live, DefaultLive) }
func (g *Guard) every() time.Duration  { return orD(g.Every, DefaultEvery) }
func (g *Guard) budget() time.Duration { return orD(g.Budget, DefaultBudget) }
func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}
func (g *Guard) timed(what string, since time.Time) {
	if g.Timed != nil {
		g.Timed(what, time.Since(since))
	}
}

func (g *Guard) note(format string, a ...any) {
	if g.Note != nil {
		g.Note(fmt.Sprintf(format, a...))
	}
}

// HeldError says that a live marker of another run stands on an MN. It
// unwraps to a *workflow.LockedError, so that it exits as a held lock.
type HeldError struct {
	Cluster string
	Path    string
	Held    []Found
	Live    time.Duration
	Forced  bool // --force was given and the operator did not confirm
}

func (e *HeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s is being worked on from another host:", e.Cluster)
	// One holder's marker on several MNs is named once, with its MNs.
	var order []string
	on := map[string][]string{}
	first := map[string]Found{}
	for _, f := range e.Held {
		k := f.Marker.Token
		if _, ok := first[k]; !ok {
			order, first[k] = append(order, k), f
		}
		on[k] = append(on[k], f.MN)
	}
	for _, k := range order {
		f := first[k]
		fmt.Fprintf(&b, " %s (marker %s on %s, heartbeat %s ago", f.Marker, e.Path, strings.Join(on[k], ", "), f.Age.Round(time.Second))
		if f.Marker.Journal != "" {
			fmt.Fprintf(&b, ", journal %s there", f.Marker.Journal)
		}
		b.WriteString(");")
	}
	h := e.Held[0].Marker
	fmt.Fprintf(&b, " wait for it to end; its marker is live while its heartbeat is younger than %s. ", e.Live)
	if e.Forced {
		b.WriteString("You did not confirm that the holder is dead, so nothing was taken over.")
	} else {
		fmt.Fprintf(&b, "If that run is known to be dead (pid %d no longer runs on %s, or %s is down), run again with --force, and confirm (or --force --yes)", h.PID, h.Host, h.Host)
	}
	return b.String()
}

func (e *HeldError) Unwrap() error {
	h := e.Held[0].Marker
	return &workflow.LockedError{Cluster: e.Cluster, Path: e.Held[0].MN + ":" + e.Path,
		Holder: workflow.Holder{RunID: h.RunID, User: h.User, Host: h.Host, PID: h.PID, Since: h.Since}}
}

// mnResult is one MN's answer.
type mnResult struct {
	found  *Marker
	raw    string
	exit   int
	err    error
	reason string // what the script said on a refusal
}

// each runs f on every MN at once and waits for all.
func (g *Guard) each(f func(i int, h remote.Host) mnResult) []mnResult {
	out := make([]mnResult, len(g.Hosts))
	var wg sync.WaitGroup
	for i, h := range g.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f(i, h)
		}()
	}
	wg.Wait()
	return out
}

// run runs script on h within the budget.
func (g *Guard) run(ctx context.Context, h remote.Host, script string, stdin []byte) mnResult {
	ctx, cancel := context.WithTimeout(ctx, g.budget())
	defer cancel()
	c := remote.Command{Script: script, Timeout: g.budget()}
	if stdin != nil {
		c.Stdin = strings.NewReader(string(stdin))
	}
	res, err := g.Exec.Exec(ctx, h, c)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	r := mnResult{raw: strings.TrimSpace(string(res.Stdout)), exit: res.Exit, err: err}
	if err == nil && res.Exit != 0 && res.Exit != exitChanged {
		r.err = fmt.Errorf("marker script exited %d: %s", res.Exit, strings.TrimSpace(string(res.Stderr)))
	}
	return r
}

// exitChanged is the scripts' exit when the marker is not the one expected.
const exitChanged = 3

func (g *Guard) readScript() string {
	p := remote.ShellQuote(g.path())
	return "if [ -f " + p + " ]; then cat " + p + "; fi"
}

// writeScript writes stdin as the marker if the marker's token is expect
// ("" for none), atomically; else it prints the marker there and exits 3.
func (g *Guard) writeScript(expect string) string {
	p := remote.ShellQuote(g.path())
	d := remote.ShellQuote(path.Dir(g.path()))
	e := remote.ShellQuote(expect)
	return `set -e; umask 077; mkdir -p ` + d + `; t=` + p + `.tmp.$$
cat > "$t"
` + tokenOf(p) + `
if [ "$cur" != ` + e + ` ]; then rm -f "$t"; cat ` + p + ` 2>/dev/null || true; exit 3; fi
if [ -z ` + e + ` ]; then
  if ! ln "$t" ` + p + ` 2>/dev/null; then rm -f "$t"; cat ` + p + ` 2>/dev/null || true; exit 3; fi
  rm -f "$t"
else
  mv -f "$t" ` + p + `
fi`
}

// removeScript removes the marker if it is token's.
func (g *Guard) removeScript(token string) string {
	p := remote.ShellQuote(g.path())
	return tokenOf(p) + `
if [ "$cur" = ` + remote.ShellQuote(token) + ` ]; then rm -f ` + p + `; fi`
}

// tokenOf sets $cur to the token of the marker at p, "" if none.
func tokenOf(p string) string {
	return `cur=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' ` + p + ` 2>/dev/null || true)`
}

// parse reads a marker; an empty text is no marker.
func parse(raw string) (*Marker, error) {
	if raw == "" {
		return nil, nil
	}
	var m Marker
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m.Token == "" {
		return nil, fmt.Errorf("not a hamnflow run marker (%.60q)", raw)
	}
	return &m, nil
}

// Held is a run's markers, written; refreshed until Release.
type Held struct {
	g       *Guard
	ctx     context.Context
	mu      sync.Mutex
	m       Marker
	on      []bool // the MNs that hold our marker
	lost    chan struct{}
	lostOne sync.Once
	stop    chan struct{}
	done    chan struct{}
}

// Acquire reads the markers on the MNs and, unless a live one of another
// run stands (a *HeldError), writes this holder's marker on every MN it
// can reach, and keeps its heartbeat fresh until Release. A marker of the
// same run id (a resume) is taken over; a stale one is reported and taken
// over. An MN that does not answer within the budget is reported, and
// does not stop the run. ctx bounds the heartbeat too.
func (g *Guard) Acquire(ctx context.Context, cluster string, h workflow.Holder) (*Held, error) {
	if g.Exec == nil || len(g.Hosts) == 0 {
		return nil, errors.New("run marker: no MN to mark")
	}
	start := time.Now()
	reads := g.each(func(_ int, mn remote.Host) mnResult {
		r := g.run(ctx, mn, g.readScript(), nil)
		if r.err == nil {
			r.found, r.err = parse(r.raw)
		}
		return r
	})
	g.timed("read", start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := g.now()
	var live []Found
	expect := make([]string, len(g.Hosts))
	reach := make([]bool, len(g.Hosts))
	for i, r := range reads {
		mn := g.Hosts[i].Name
		switch {
		case r.err != nil && r.found == nil && r.raw != "" && r.exit == 0:
			return nil, fmt.Errorf("run marker %s on %s: %v; look at it, and remove it if no hamnflow runs (rm %s there)", g.path(), mn, r.err, g.path())
		case r.err != nil:
			g.note("MN %s did not answer for the run marker (%v): it is not marked, and a hamnflow on another host sees this run only on the other MNs", mn, r.err)
			continue
		}
		reach[i] = true
		m := r.found
		if m == nil {
			continue
		}
		expect[i] = m.Token
		age := now.Sub(m.Heartbeat)
		switch {
		case h.RunID != "" && m.RunID == h.RunID:
			// our own run, resumed: take it over
		case age < g.live():
			live = append(live, Found{MN: mn, Marker: *m, Age: age})
		default:
			g.note("stale run marker on %s: %s, last heartbeat %s ago (older than %s): that run is not finished or did not clean up; taking it over", mn, m, age.Round(time.Second), g.live())
		}
	}
	if len(live) > 0 {
		if !g.Force {
			return nil, &HeldError{Cluster: cluster, Path: g.path(), Held: live, Live: g.live()}
		}
		ok := false
		if g.Confirm != nil {
			var err error
			if ok, err = g.Confirm(ctx, live); err != nil {
				return nil, fmt.Errorf("confirm taking over the run marker: %w", err)
			}
		}
		if !ok {
			return nil, &HeldError{Cluster: cluster, Path: g.path(), Held: live, Live: g.live(), Forced: true}
		}
		for _, f := range live {
			g.note("--force: taking over the live run marker on %s of %s", f.MN, f.Marker)
		}
	}
	if h.Since.IsZero() {
		h.Since = now
	}
	held := &Held{g: g, ctx: ctx, on: make([]bool, len(g.Hosts)),
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		m: Marker{Version: 1, Cluster: cluster, RunID: h.RunID, User: h.User, Host: h.Host, PID: h.PID,
			Since: h.Since, Journal: g.Journal, Token: newToken()}}
	start = time.Now()
	err := held.write(expect, reach)
	g.timed("write", start)
	if err != nil {
		held.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	if !slices.Contains(held.on, true) {
		g.note("no MN holds this run's marker: a hamnflow on another host will not see this run")
	}
	go held.beat()
	return held, nil
}

// write writes the marker on the MNs where reach says, over the markers
// with the tokens expect. A marker that changed meanwhile is another
// hamnflow's that came at the same time: the error names it.
func (h *Held) write(expect []string, reach []bool) error {
	h.mu.Lock()
	h.m.Heartbeat = h.g.now()
	data, _ := json.Marshal(h.m)
	h.mu.Unlock()
	res := h.g.each(func(i int, mn remote.Host) mnResult {
		if !reach[i] {
			return mnResult{}
		}
		return h.g.run(h.ctx, mn, h.g.writeScript(expect[i]), data)
	})
	var raced []Found
	for i, r := range res {
		if !reach[i] {
			continue
		}
		mn := h.g.Hosts[i].Name
		switch {
		case r.err != nil:
			h.g.note("could not write the run marker on %s (%v): it is not marked", mn, r.err)
		case r.exit == exitChanged:
			f := Found{MN: mn}
			if m, _ := parse(r.raw); m != nil {
				f.Marker, f.Age = *m, h.g.now().Sub(m.Heartbeat)
			}
			raced = append(raced, f)
		default:
			h.mu.Lock()
			h.on[i] = true
			h.mu.Unlock()
		}
	}
	if len(raced) > 0 {
		return &HeldError{Cluster: h.m.Cluster, Path: h.g.path(), Held: raced, Live: h.g.live()}
	}
	return nil
}

// SetRun records the run's id in the markers.
func (h *Held) SetRun(id string) error {
	h.mu.Lock()
	h.m.RunID = id
	h.mu.Unlock()
	return h.refresh()
}

// refresh rewrites the marker where it stands, with a new heartbeat. A
// marker that another run took over (with --force) means that this run
// lost the cluster: Lost is closed.
func (h *Held) refresh() error {
	h.mu.Lock()
	expect := make([]string, len(h.on))
	reach := make([]bool, len(h.on))
	for i, on := range h.on {
		expect[i], reach[i] = h.m.Token, on
	}
	h.mu.Unlock()
	start := time.Now()
	err := h.write(expect, reach)
	h.g.timed("refresh", start)
	var he *HeldError
	if errors.As(err, &he) {
		h.lostOne.Do(func() { close(h.lost) })
		return fmt.Errorf("this run lost the cluster: %w", err)
	}
	return err
}

// beat refreshes the heartbeat every g.every() until Release.
func (h *Held) beat() {
	defer close(h.done)
	t := time.NewTicker(h.g.every())
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.ctx.Done():
			return
		case <-t.C:
			if err := h.refresh(); err != nil {
				h.g.note("%v", err)
			}
		}
	}
}

// Lost is closed when another run took a marker of this one over.
func (h *Held) Lost() <-chan struct{} { return h.lost }

// Release stops the heartbeat and, if remove, removes the markers that
// are still this run's. Releasing twice is harmless.
func (h *Held) Release(ctx context.Context, remove bool) {
	select {
	case <-h.stop:
		return
	default:
		close(h.stop)
	}
	<-h.done
	if remove {
		h.remove(ctx)
	}
}

// removeBudget bounds the removal of the markers at the end of a run, on
// all MNs together: it takes milliseconds on a LAN (8 ms measured), and a
// run that ended must not wait out an MN that stopped answering (the
// link-cut test: the process must end within its step's timeout and the
// kill's 3 s). A marker left behind goes stale after Live and is named.
const removeBudget = time.Second

func (h *Held) remove(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, removeBudget)
	defer cancel()
	h.mu.Lock()
	token, on := h.m.Token, append([]bool(nil), h.on...)
	h.mu.Unlock()
	defer h.g.timed("remove", time.Now())
	res := h.g.each(func(i int, mn remote.Host) mnResult {
		if !on[i] {
			return mnResult{}
		}
		return h.g.run(ctx, mn, h.g.removeScript(token), nil)
	})
	for i, r := range res {
		if on[i] && r.err != nil {
			h.g.note("could not remove the run marker on %s (%v): it goes stale %s after the run's last heartbeat; rm %s there", h.g.Hosts[i].Name, r.err, h.g.live(), h.g.path())
		}
	}
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orD(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}
