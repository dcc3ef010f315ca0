// Package drills holds hamnflow's failure drills on the lab: a crash of
// hamnflow at every step boundary and inside every step of the failover
// followed by resume, a failure injected mid-failover followed by
// rollback, a partition between the MNs with the old primary coming back
// holding the cluster address, and a second operator refused while a
// failover runs. The plain failover (data, address, services on MN2) and
// the failback are covered by integration/linux (TestLinuxHAMN) and are
// not repeated here.
//
// The drills are tests: go test ./integration/drills -count=1 (root).
package drills
