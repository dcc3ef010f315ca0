package etcd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hamnflow/hamnflow/workflow"
)

// The etcd journal takes in copied runs.
var _ workflow.Importer = (*Store)(nil)

// ImportRun adds a run copied from another journal, with its id, summary,
// source and events (their seqs and times) unchanged. It refuses a run
// whose id the journal holds already. A long log takes more than one
// transaction (etcd's --max-txn-ops): the events go first, the run's
// record last, so that the run shows only once it is whole; an import cut
// off halfway leaves no run, and a second one starts over.
func (s *Store) ImportRun(r workflow.Run, src workflow.Source, evs []workflow.Event) error {
	if r.ID == "" || strings.ContainsAny(r.ID, "/\x00") {
		return fmt.Errorf("etcd journal at %s: import run: run id %q is not a valid id", s.where, r.ID)
	}
	fail := func(err error) error { return s.fail("import run "+r.ID, err, s.cfg.OpTimeout) }
	exists := fmt.Errorf("etcd journal at %s: run %s exists there already; hamnflow journal copy does not overwrite runs", s.where, r.ID)
	absent := clientv3.Compare(clientv3.CreateRevision(s.runKey(r.ID)), "=", 0)
	commit := func(ops ...clientv3.Op) error {
		ctx, cancel := s.op()
		defer cancel()
		resp, err := s.cli.Txn(ctx).If(absent).Then(ops...).Commit()
		switch {
		case err != nil:
			return fail(err)
		case !resp.Succeeded:
			return exists
		}
		return nil
	}
	// Whatever an import cut off before left goes first.
	if err := commit(clientv3.OpDelete(s.evPrefix(r.ID), clientv3.WithPrefix())); err != nil {
		return err
	}
	batch := make([]clientv3.Op, 0, s.cfg.MaxTxnOps)
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("etcd journal at %s: import run %s: %w", s.where, r.ID, err)
		}
		batch = append(batch, clientv3.OpPut(s.evKey(r.ID, ev.Seq), string(data)))
		if len(batch) == cap(batch) {
			if err := commit(batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := commit(batch...); err != nil {
			return err
		}
	}
	var last uint64
	if len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	runData, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("etcd journal at %s: import run %s: %w", s.where, r.ID, err)
	}
	srcData, err := json.Marshal(src)
	if err != nil {
		return fmt.Errorf("etcd journal at %s: import run %s: %w", s.where, r.ID, err)
	}
	return commit(
		clientv3.OpPut(s.srcKey(r.ID), string(srcData)),
		clientv3.OpPut(s.seqKey(r.ID), strconv.FormatUint(last, 10)),
		clientv3.OpPut(s.runKey(r.ID), string(runData)),
	)
}
