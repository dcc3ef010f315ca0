package etcd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hamnflow/hamnflow/workflow"
)

// Lock is a held cluster run lock: a concurrency.Mutex on its own
// session, whose lease the session renews while the process lives. The
// mutex's key holds the workflow.Holder. If the process stops renewing
// (it dies, is paused, or is cut off from etcd for longer than the lease
// TTL) the lease lapses, etcd deletes the key, and another operator can
// take the lock; this process's writes then fail.
type Lock struct {
	s       *Store
	cluster string
	session *concurrency.Session
	mutex   *concurrency.Mutex
	rev     int64 // the create revision of the mutex key: who owns it

	mu       sync.Mutex
	holder   workflow.Holder
	released bool
}

// LockLostError is the error of a write by a process whose cluster lock
// lapsed. It wraps workflow.ErrLockLost.
type LockLostError struct {
	Cluster, RunID, Where string
	TTL                   time.Duration
}

func (e *LockLostError) Error() string {
	run := "the run"
	if e.RunID != "" {
		run = "run " + e.RunID
	}
	return fmt.Sprintf("the run lock of cluster %s in the etcd journal at %s was lost: this hamnflow's lease lapsed (was the process paused, or cut off from etcd, for longer than the lease's %s?), so another operator may hold the lock and work on %s now; nothing was written. `hamnflow resume %s` on any operator host is refused while another holds the lock, naming the holder, and resumes once nobody does: let the holder go on, or resume only after making sure that no other hamnflow works on cluster %s",
		e.Cluster, e.Where, e.TTL, run, orID(e.RunID), e.Cluster)
}

func (e *LockLostError) Unwrap() error { return workflow.ErrLockLost }

func orID(id string) string {
	if id == "" {
		return "ID"
	}
	return id
}

// lockPrefix is where the mutex of cluster lives. Cluster names are
// escaped so that no cluster's prefix holds another's keys.
func (s *Store) lockPrefix(cluster string) string {
	return s.key("locks/", url.PathEscape(cluster))
}

// Lock takes the run lock of cluster without waiting, and records h
// (with its PID and Since filled in if zero) as the lock's value. If
// another process holds it, it returns a *workflow.LockedError naming
// the holder.
func (s *Store) Lock(cluster string, h workflow.Holder) (workflow.Lock, error) {
	if cluster == "" {
		return nil, errors.New("lock: no cluster name given")
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	if h.Since.IsZero() {
		h.Since = now()
	}
	ttl := int64(math.Ceil(s.cfg.LeaseTTL.Seconds()))
	ctx, cancel := s.op()
	defer cancel()
	// The lease is granted here, under the request's deadline; the
	// session only renews it, for as long as the Store's context lives.
	grant, err := s.cli.Grant(ctx, ttl)
	if err != nil {
		return nil, s.fail("lock cluster "+cluster, err, s.cfg.OpTimeout)
	}
	session, err := concurrency.NewSession(s.cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(int(ttl)), concurrency.WithContext(s.ctx))
	if err != nil {
		s.revoke(grant.ID)
		return nil, s.fail("lock cluster "+cluster, err, s.cfg.OpTimeout)
	}
	pfx := s.lockPrefix(cluster)
	m := concurrency.NewMutex(session, pfx)
	if err := m.TryLock(ctx); err != nil {
		session.Close()
		if errors.Is(err, concurrency.ErrLocked) {
			return nil, &workflow.LockedError{Cluster: cluster, Holder: s.readHolder(pfx), Path: s.where + " key " + pfx + "/", Lease: s.cfg.LeaseTTL}
		}
		return nil, s.fail("lock cluster "+cluster, err, s.cfg.OpTimeout)
	}
	l := &Lock{s: s, cluster: cluster, session: session, mutex: m, holder: h}
	data, _ := json.Marshal(h)
	resp, err := s.cli.Txn(ctx).If(m.IsOwner()).
		Then(clientv3.OpPut(m.Key(), string(data), clientv3.WithLease(session.Lease())), clientv3.OpGet(m.Key())).
		Commit()
	switch {
	case err != nil:
		l.Release()
		return nil, s.fail("lock cluster "+cluster, err, s.cfg.OpTimeout)
	case !resp.Succeeded:
		l.Release()
		return nil, l.lost(h.RunID)
	}
	l.rev = resp.Responses[1].GetResponseRange().Kvs[0].CreateRevision
	s.mu.Lock()
	s.locks[cluster] = l
	s.mu.Unlock()
	return l, nil
}

// readHolder reads the holder of the lock at pfx, retrying briefly in
// case it caught the holder between taking the lock and recording itself.
func (s *Store) readHolder(pfx string) workflow.Holder {
	for range 5 {
		ctx, cancel := s.op()
		resp, err := s.cli.Get(ctx, pfx+"/", clientv3.WithFirstCreate()...)
		cancel()
		if err == nil && len(resp.Kvs) > 0 {
			var h workflow.Holder
			if json.Unmarshal(resp.Kvs[0].Value, &h) == nil && h.PID != 0 {
				return h
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return workflow.Holder{}
}

// heldLock returns the lock of cluster this Store holds, or nil.
func (s *Store) heldLock(cluster string) *Lock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[cluster]
}

// owner is the condition of a write under the lock: the mutex key is
// still the one this lock created.
func (l *Lock) owner() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(l.mutex.Key()), "=", l.rev)
}

// get reads the mutex key when a conditional write failed, to tell a
// lost lock from another writer.
func (l *Lock) get() clientv3.Op { return clientv3.OpGet(l.mutex.Key()) }

// stillOwner says, from the reply to get in a failed write's other
// branch, whether the lock was still held.
func (l *Lock) stillOwner(got *etcdserverpb.ResponseOp) bool {
	kvs := got.GetResponseRange().Kvs
	return len(kvs) > 0 && kvs[0].CreateRevision == l.rev
}

// check refuses at once when the session stopped renewing the lease: it
// may still be alive on the members for a moment, but nothing renews it.
func (l *Lock) check() error {
	if !l.lapsed() {
		return nil
	}
	l.mu.Lock()
	id := l.holder.RunID
	l.mu.Unlock()
	return l.lost(id)
}

// lapsed says whether the session stopped renewing the lease.
func (l *Lock) lapsed() bool {
	select {
	case <-l.session.Done():
		return true
	default:
		return false
	}
}

func (l *Lock) lost(runID string) error {
	return &LockLostError{Cluster: l.cluster, RunID: runID, Where: l.s.where, TTL: l.s.cfg.LeaseTTL}
}

// Lost is closed when the lock's lease is no longer renewed: it lapsed,
// was revoked, or the lock was released.
func (l *Lock) Lost() <-chan struct{} { return l.session.Done() }

// SetRun records the id of the run the holder works on.
func (l *Lock) SetRun(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("lock of cluster %s was released", l.cluster)
	}
	if l.lapsed() {
		return l.lost(id)
	}
	h := l.holder
	h.RunID = id
	data, _ := json.Marshal(h)
	ctx, cancel := l.s.op()
	defer cancel()
	resp, err := l.s.cli.Txn(ctx).If(l.owner()).
		Then(clientv3.OpPut(l.mutex.Key(), string(data), clientv3.WithLease(l.session.Lease()))).
		Commit()
	if err != nil {
		return l.s.fail("record the holder of cluster "+l.cluster, err, l.s.cfg.OpTimeout)
	}
	if !resp.Succeeded {
		return l.lost(id)
	}
	l.holder = h
	return nil
}

// Release gives the lock up: it deletes its key and revokes its lease.
// Releasing twice, or a lock whose lease lapsed, is harmless.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	l.s.mu.Lock()
	if l.s.locks[l.cluster] == l {
		delete(l.s.locks, l.cluster)
	}
	l.s.mu.Unlock()
	ctx, cancel := l.s.op()
	defer cancel()
	var err error
	if l.rev != 0 {
		// Only our own key, and only if it is still ours.
		_, err = l.s.cli.Txn(ctx).If(l.owner()).Then(clientv3.OpDelete(l.mutex.Key())).Commit()
	}
	l.session.Orphan()
	if _, rerr := l.s.cli.Revoke(ctx, l.session.Lease()); err == nil && rerr != nil && !errors.Is(rerr, rpctypes.ErrLeaseNotFound) {
		err = rerr
	}
	if err != nil {
		return l.s.fail("release the lock of cluster "+l.cluster, err, l.s.cfg.OpTimeout)
	}
	return nil
}

// revoke gives up a lease that no session took, best effort.
func (s *Store) revoke(id clientv3.LeaseID) {
	ctx, cancel := s.op()
	defer cancel()
	s.cli.Revoke(ctx, id)
}

// isUnavailable says whether err is gRPC's word for an unreachable
// server.
func isUnavailable(err error) bool {
	if st, ok := status.FromError(err); ok {
		return st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded
	}
	return false
}
