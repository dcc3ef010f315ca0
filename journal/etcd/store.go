// Package etcd is a workflow.Store on etcd: a journal that lives with
// the cluster rather than on the host that runs hamnflow, so that another
// operator host can see where a run stands and resume it, and a cluster
// lock that is a lease-backed etcd mutex.
//
// Every write is one etcd transaction, committed by a quorum of the
// members before it returns: the same promise as the bbolt journal's
// fsync. A write by a process that holds the cluster's lock is
// conditional on still holding it, so a process whose lease lapsed
// (paused, or cut off from etcd) can no longer write, and so can no
// longer start a step.
package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hamnflow/hamnflow/workflow"
)

// Layout, under the Config's prefix P:
//
//	P meta/format         "hamnflow-journal"
//	P meta/version        FormatVersion (decimal)
//	P runs/ID             workflow.Run (JSON)
//	P sources/ID          workflow.Source (JSON)
//	P seq/ID              the run's last event seq (decimal)
//	P events/ID/SEQ       workflow.Event (JSON); SEQ is 16 hex digits
//	P locks/CLUSTER/LEASE the cluster lock (a concurrency.Mutex); the
//	                      owner's key holds its workflow.Holder (JSON)
//
// Run ids start with their UTC start time, so keys in reverse order list
// the newest run first.
const (
	formatName = "hamnflow-journal"
	// FormatVersion is the layout version; another is refused.
	FormatVersion = 1
)

// ErrNotFound: no run with that id (or id prefix).
var ErrNotFound = errors.New("run not found")

// pageSize is how many keys one range request reads.
const pageSize = 500

// Store is a hamnflow journal in etcd. It is safe for concurrent use.
type Store struct {
	cfg   Config
	cli   *clientv3.Client
	ctx   context.Context // for requests and lock sessions: Open's, without its cancellation
	where string

	appendMu sync.Mutex          // this process's writes to runs, one at a time
	last     map[string]runState // each run as this Store last wrote it; under appendMu

	mu    sync.Mutex
	locks map[string]*Lock // the cluster locks this Store holds
}

var _ workflow.Store = (*Store)(nil)

// Open connects to etcd and checks (or, on an empty prefix, writes) the
// journal's format. ctx bounds the connection; the Store's requests each
// get the Config's OpTimeout instead of ctx's cancellation, so that an
// interrupted run can still record that it was interrupted. An
// unreachable etcd fails within the DialTimeout, naming the endpoints.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, where: cfg.where(), ctx: context.WithoutCancel(ctx), locks: map[string]*Lock{}, last: map[string]runState{}}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	s.cli, err = clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		TLS:         tlsCfg,
		Context:     s.ctx,
		// The client's own log would print its retries over the
		// operator's terminal; its errors come back to us.
		Logger: zap.NewNop(),
		// Find a dead member's connection out soon, and go to another.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd journal at %s: %w; check the endpoints and TLS settings", s.where, err)
	}
	if err := s.checkFormat(ctx); err != nil {
		s.cli.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection. Locks still held lapse with their leases.
func (s *Store) Close() error { return s.cli.Close() }

// Config returns the Store's configuration with its defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// String names the journal: its endpoints and prefix.
func (s *Store) String() string { return s.where }

func (s *Store) key(parts ...string) string { return s.cfg.Prefix + strings.Join(parts, "") }
func (s *Store) runKey(id string) string    { return s.key("runs/", id) }
func (s *Store) srcKey(id string) string    { return s.key("sources/", id) }
func (s *Store) seqKey(id string) string    { return s.key("seq/", id) }
func (s *Store) evPrefix(id string) string  { return s.key("events/", id, "/") }
func (s *Store) evKey(id string, seq uint64) string {
	return s.evPrefix(id) + fmt.Sprintf("%016x", seq)
}

// op gives a request its deadline.
func (s *Store) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.cfg.OpTimeout)
}

// fail wraps a request's error with the journal's name and, when etcd did
// not answer, what to check.
func (s *Store) fail(what string, err error, wait time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isUnavailable(err) {
		return fmt.Errorf("etcd journal at %s: %s: no quorum of etcd answered within %s (%w); check that the members run and are reachable from this host (etcdctl --endpoints=%s endpoint health), the addresses and ports, firewalls and the TLS files, then retry",
			s.where, what, wait, err, strings.Join(s.cfg.Endpoints, ","))
	}
	return fmt.Errorf("etcd journal at %s: %s: %w", s.where, what, err)
}

// checkFormat writes the format keys to an empty prefix, or checks them.
func (s *Store) checkFormat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	fk, vk := s.key("meta/format"), s.key("meta/version")
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(fk), "=", 0)).
		Then(clientv3.OpPut(fk, formatName), clientv3.OpPut(vk, strconv.Itoa(FormatVersion))).
		Else(clientv3.OpGet(fk), clientv3.OpGet(vk)).
		Commit()
	if err != nil {
		return s.fail("connect", err, s.cfg.DialTimeout)
	}
	if resp.Succeeded {
		return nil
	}
	val := func(i int) string {
		if kvs := resp.Responses[i].GetResponseRange().Kvs; len(kvs) > 0 {
			return string(kvs[0].Value)
		}
		return ""
	}
	if f := val(0); f != formatName {
		return fmt.Errorf("etcd journal at %s: the prefix holds %q at meta/format, not a hamnflow journal; give another prefix", s.where, f)
	}
	if v := val(1); v != strconv.Itoa(FormatVersion) {
		return fmt.Errorf("etcd journal at %s has format version %s, but this hamnflow understands version %d only; use a hamnflow release that matches the journal, or give another prefix", s.where, v, FormatVersion)
	}
	return nil
}

// CreateRun records a new run and its source in one transaction. It
// assigns r.ID if empty and sets StartedAt and UpdatedAt if zero. When
// this Store holds the lock of the run's cluster, the write is
// conditional on still holding it.
func (s *Store) CreateRun(r workflow.Run, src workflow.Source) (workflow.Run, error) {
	now := now()
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	given := r.ID != ""
	if given && (strings.ContainsAny(r.ID, "/\x00") || len(r.ID) > 200) {
		return workflow.Run{}, fmt.Errorf("etcd journal at %s: create run: run id %q is not a valid id", s.where, r.ID)
	}
	srcData, err := json.Marshal(src)
	if err != nil {
		return workflow.Run{}, fmt.Errorf("etcd journal at %s: create run: %w", s.where, err)
	}
	lock := s.heldLock(r.Cluster)
	for i := 0; ; i++ {
		if i == 100 {
			return workflow.Run{}, fmt.Errorf("etcd journal at %s: create run: no free run id after 100 attempts", s.where)
		}
		if !given {
			ctx, cancel := s.op()
			last, err := s.cli.Get(ctx, s.key("runs/"), clientv3.WithLastKey()...)
			cancel()
			if err != nil {
				return workflow.Run{}, s.fail("create run", err, s.cfg.OpTimeout)
			}
			newest := ""
			if len(last.Kvs) > 0 {
				newest = strings.TrimPrefix(string(last.Kvs[0].Key), s.key("runs/"))
			}
			r.ID = workflow.NewRunID(r.StartedAt, newest)
		}
		runData, err := json.Marshal(r)
		if err != nil {
			return workflow.Run{}, fmt.Errorf("etcd journal at %s: create run: %w", s.where, err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.runKey(r.ID)), "=", 0)}
		var orElse []clientv3.Op
		if lock != nil {
			if err := lock.check(); err != nil {
				return workflow.Run{}, err
			}
			cmps = append(cmps, lock.owner())
			orElse = append(orElse, lock.get())
		}
		ctx, cancel := s.op()
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(
			clientv3.OpPut(s.runKey(r.ID), string(runData)),
			clientv3.OpPut(s.srcKey(r.ID), string(srcData)),
			clientv3.OpPut(s.seqKey(r.ID), "0"),
		).Else(orElse...).Commit()
		cancel()
		if err != nil {
			return workflow.Run{}, s.fail("create run", err, s.cfg.OpTimeout)
		}
		if resp.Succeeded {
			s.appendMu.Lock()
			s.last[r.ID] = runState{record: runData, rev: resp.Header.Revision}
			s.appendMu.Unlock()
			return r, nil
		}
		if lock != nil && !lock.stillOwner(resp.Responses[0]) {
			return workflow.Run{}, lock.lost(r.ID)
		}
		if given {
			return workflow.Run{}, fmt.Errorf("etcd journal at %s: create run: run %s already exists; give a new run id", s.where, r.ID)
		}
	}
}

// Append appends evs to the log of run runID and applies update (if not
// nil) to the run's summary, in one transaction committed by a quorum
// before Append returns. It assigns each event its Seq and its Time if
// zero, sets the run's UpdatedAt, and returns the events as stored. If
// this Store holds the lock of the run's cluster, the write is
// conditional on still holding it: once the lock's lease lapsed, Append
// fails with an error that wraps workflow.ErrLockLost.
//
// The transaction is also conditional on the run's record being as this
// Store last wrote or read it, so that a Store that keeps writing one run
// (as the engine does) needs one request per Append, not two: when the
// condition fails, the transaction's other branch returns the run as it
// is, and Append tries again on that.
func (s *Store) Append(runID string, update func(*workflow.Run), evs ...workflow.Event) ([]workflow.Event, error) {
	if len(evs)+3 > s.cfg.MaxTxnOps {
		return nil, fmt.Errorf("etcd journal at %s: append to run %s: %d events do not fit in one etcd transaction (at most %d operations, the members' --max-txn-ops); raise it on the members and in the journal's max_txn_ops", s.where, runID, len(evs), s.cfg.MaxTxnOps)
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	st, ok := s.last[runID]
	if !ok {
		var err error
		if st, err = s.readRun(runID); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			return nil, fmt.Errorf("etcd journal at %s: append to run %s: another process kept writing to the run; make sure only one hamnflow works on it", s.where, runID)
		}
		out, next, err := s.tryAppend(runID, st, update, evs)
		if err != nil {
			delete(s.last, runID)
			return nil, err
		}
		s.last[runID] = next
		if out != nil {
			return out, nil
		}
		st = next // another process wrote the run: try again on what it wrote
	}
}

// runState is a run's record and event counter as of a revision.
type runState struct {
	record []byte // the run's JSON
	rev    int64  // the record's mod revision
	seq    uint64 // the last event's seq
}

// readRun reads a run's state.
func (s *Store) readRun(runID string) (runState, error) {
	ctx, cancel := s.op()
	defer cancel()
	read, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.runKey(runID)), clientv3.OpGet(s.seqKey(runID))).Commit()
	if err != nil {
		return runState{}, s.fail("append to run "+runID, err, s.cfg.OpTimeout)
	}
	return s.runStateOf(runID, read.Responses[0], read.Responses[1])
}

// runStateOf makes a runState of the replies to reading the run's record
// and counter.
func (s *Store) runStateOf(runID string, run, seq *etcdserverpb.ResponseOp) (runState, error) {
	runKVs, seqKVs := run.GetResponseRange().Kvs, seq.GetResponseRange().Kvs
	if len(runKVs) == 0 {
		return runState{}, notFound(s.where, runID, "list the runs to find its id")
	}
	st := runState{record: runKVs[0].Value, rev: runKVs[0].ModRevision}
	if len(seqKVs) > 0 {
		var err error
		if st.seq, err = strconv.ParseUint(string(seqKVs[0].Value), 10, 64); err != nil {
			return runState{}, fmt.Errorf("etcd journal at %s: append to run %s: its event counter %q does not read back", s.where, runID, seqKVs[0].Value)
		}
	}
	return st, nil
}

// tryAppend writes the events and the updated run on condition that the
// run is still as st says (and the lock, if held, still ours). It returns
// the stored events and the run's new state, or no events and the run's
// state as another process left it.
func (s *Store) tryAppend(runID string, st runState, update func(*workflow.Run), evs []workflow.Event) ([]workflow.Event, runState, error) {
	rk, sk := s.runKey(runID), s.seqKey(runID)
	var r workflow.Run
	if err := json.Unmarshal(st.record, &r); err != nil {
		return nil, st, fmt.Errorf("etcd journal at %s: append to run %s: its record does not read back: %v", s.where, runID, err)
	}
	lock := s.heldLock(r.Cluster)
	if lock != nil {
		if err := lock.check(); err != nil {
			return nil, st, err
		}
	}
	now := now()
	out := make([]workflow.Event, len(evs))
	ops := make([]clientv3.Op, 0, len(evs)+2)
	for i, ev := range evs {
		ev.Seq = st.seq + uint64(i) + 1
		if ev.Time.IsZero() {
			ev.Time = now
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, st, fmt.Errorf("etcd journal at %s: append to run %s: %w", s.where, runID, err)
		}
		ops = append(ops, clientv3.OpPut(s.evKey(runID, ev.Seq), string(data)))
		out[i] = ev
	}
	if update != nil {
		update(&r) // a panic here is the caller's; nothing was written
		r.ID = runID
	}
	r.UpdatedAt = now
	runData, err := json.Marshal(r)
	if err != nil {
		return nil, st, fmt.Errorf("etcd journal at %s: append to run %s: %w", s.where, runID, err)
	}
	seq := st.seq + uint64(len(evs))
	ops = append(ops, clientv3.OpPut(rk, string(runData)), clientv3.OpPut(sk, strconv.FormatUint(seq, 10)))
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", st.rev)}
	orElse := []clientv3.Op{clientv3.OpGet(rk), clientv3.OpGet(sk)}
	if lock != nil {
		cmps = append(cmps, lock.owner())
		orElse = append(orElse, lock.get())
	}
	ctx, cancel := s.op()
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(orElse...).Commit()
	if err != nil {
		return nil, st, s.fail("append to run "+runID, err, s.cfg.OpTimeout)
	}
	if resp.Succeeded {
		return out, runState{record: runData, rev: resp.Header.Revision, seq: seq}, nil
	}
	if lock != nil && !lock.stillOwner(resp.Responses[2]) {
		return nil, st, lock.lost(runID)
	}
	now2, err := s.runStateOf(runID, resp.Responses[0], resp.Responses[1])
	return nil, now2, err
}

// resolve returns the id of run id, or of the one run whose id starts
// with it (at least minPrefix characters).
func (s *Store) resolve(ctx context.Context, id string) (string, error) {
	if id == "" || strings.ContainsRune(id, '/') {
		return "", notFound(s.where, id, "give the full run id")
	}
	resp, err := s.cli.Get(ctx, s.runKey(id), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(11))
	if err != nil {
		return "", s.fail("read run "+id, err, s.cfg.OpTimeout)
	}
	var found []string
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.key("runs/"))
		if k == id {
			return id, nil
		}
		found = append(found, k)
	}
	switch {
	case len(id) < minPrefix:
		return "", notFound(s.where, id, fmt.Sprintf("give the full run id or at least %d characters of it", minPrefix))
	case len(found) == 0:
		return "", notFound(s.where, id, "list the runs to find its id")
	case len(found) > 1:
		if len(found) > 10 {
			found = append(found[:10], "...")
		}
		return "", fmt.Errorf("etcd journal at %s: run id prefix %q is ambiguous, it matches %s; give more of the id", s.where, id, strings.Join(found, ", "))
	}
	return found[0], nil
}

// minPrefix is the shortest run id prefix that Run, Source and Events accept.
const minPrefix = 4

// getJSON reads one record of a run given by its id or a prefix of it.
func (s *Store) getJSON(what, id string, key func(string) string, v any) error {
	ctx, cancel := s.op()
	defer cancel()
	full, err := s.resolve(ctx, id)
	if err != nil {
		return err
	}
	resp, err := s.cli.Get(ctx, key(full))
	if err != nil {
		return s.fail("read "+what+" of run "+full, err, s.cfg.OpTimeout)
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("etcd journal at %s: run %s has no %s", s.where, full, what)
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, v); err != nil {
		return fmt.Errorf("etcd journal at %s: the %s of run %s does not read back: %v", s.where, what, full, err)
	}
	return nil
}

// Run returns the summary of run id (or a unique prefix of it).
func (s *Store) Run(id string) (workflow.Run, error) {
	var r workflow.Run
	if err := s.getJSON("record", id, s.runKey, &r); err != nil {
		return workflow.Run{}, err
	}
	return r, nil
}

// Source returns what run id (or a unique prefix of it) started from.
func (s *Store) Source(id string) (workflow.Source, error) {
	var src workflow.Source
	if err := s.getJSON("source", id, s.srcKey, &src); err != nil {
		return workflow.Source{}, err
	}
	return src, nil
}

// Events returns the log of run id (or a unique prefix of it), in order,
// as of one revision.
func (s *Store) Events(id string) ([]workflow.Event, error) {
	ctx, cancel := s.op()
	defer cancel()
	full, err := s.resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	var evs []workflow.Event
	prefix := s.evPrefix(full)
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, rev := prefix, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return nil, s.fail("read events of run "+full, err, s.cfg.OpTimeout)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			var ev workflow.Event
			if err := json.Unmarshal(kv.Value, &ev); err != nil {
				return nil, fmt.Errorf("etcd journal at %s: event %s of run %s does not read back: %v", s.where, strings.TrimPrefix(string(kv.Key), prefix), full, err)
			}
			evs = append(evs, ev)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if evs == nil {
		evs = []workflow.Event{}
	}
	return evs, nil
}

// Runs returns the runs that match f, newest first (by id), at most
// f.Limit of them if it is positive.
func (s *Store) Runs(f workflow.Filter) ([]workflow.Run, error) {
	ctx, cancel := s.op()
	defer cancel()
	prefix := s.key("runs/")
	end, rev := clientv3.GetPrefixRangeEnd(prefix), int64(0)
	var rs []workflow.Run
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, prefix, opts...)
		if err != nil {
			return nil, s.fail("list runs", err, s.cfg.OpTimeout)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			var r workflow.Run
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return nil, fmt.Errorf("etcd journal at %s: run %s does not read back: %v", s.where, strings.TrimPrefix(string(kv.Key), prefix), err)
			}
			if !f.Match(&r) {
				continue
			}
			rs = append(rs, r)
			if f.Limit > 0 && len(rs) == f.Limit {
				return rs, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rs, nil
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key) // exclusive: the next page is below it
	}
}

// notFound is the error of an unknown run.
func notFound(where, id, hint string) error {
	return fmt.Errorf("%w: no run %q in the etcd journal at %s; %s", ErrNotFound, id, where, hint)
}

// now is the time stamp for new records: UTC without a monotonic reading.
func now() time.Time { return time.Now().UTC().Round(0) }
