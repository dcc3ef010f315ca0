//go:build lab

package drills

import (
	"bufio"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
)

// arpSampler asks for the cluster address from the operator namespace
// every 50 ms (Habets arping, broadcast requests) and records, per
// request, which MACs answered.
type arpSampler struct {
	stop    func() // ends arping (SIGINT, by its pid) and waits for it
	mu      sync.Mutex
	answers map[int]map[string]bool // request index -> MACs that answered
	done    chan struct{}
}

var arpReply = regexp.MustCompile(`from ([0-9a-f:]{17}) \(` + regexp.QuoteMeta(lab.ClusterAddress) + `\): index=(\d+)`)

func (d *drill) sampleARP() *arpSampler {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := d.env.Lab.OperatorCmd(ctx, "arping", "-i", lab.Interface, "-W", "0.05", lab.ClusterAddress)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	s := &arpSampler{answers: map[int]map[string]bool{}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := arpReply.FindStringSubmatch(strings.ToLower(sc.Text()))
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[2])
			s.mu.Lock()
			if s.answers[i] == nil {
				s.answers[i] = map[string]bool{}
			}
			s.answers[i][m[1]] = true
			s.mu.Unlock()
		}
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			<-s.done
			cmd.Wait()
		})
	}
	d.t.Cleanup(s.stop)
	return s
}

// TestPartitionDrill cuts the link between the MNs during the database
// takeover (after the old primary's PostgreSQL stopped and its address was
// released), and the old primary comes back still configured with the
// cluster address. At no sampled instant may two hosts answer for the
// cluster address, and the failover must stop and say why rather than
// take it.
func TestPartitionDrill(t *testing.T) {
	d := newDrill(t)
	d.installHolds()
	arp := d.sampleARP()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	d.hold("mn1", "post", "ip addr del "+lab.ClusterAddress+"/*")
	p := d.start("run", "failover", "--yes", "--stream")
	if _, ok := d.waitHeld(p, "mn1"); !ok {
		t.Fatalf("failover ended (exit %d) before mn1 released the address:\n%s", p.exit, p.output())
	}
	if err := d.env.Lab.Partition(ctx, "mn1", "mn2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.env.Lab.Heal(context.Background(), "mn1", "mn2") })
	// mn1 comes back with its static configuration: the cluster address.
	d.env.Exec(t, "mn1", "ip addr add "+lab.ClusterAddress+"/24 dev "+lab.Interface)
	d.release("mn1")
	if got := p.wait(t); got != 1 {
		t.Fatalf("failover with mn1 holding %s again: exit %d, want 1 (stopped):\n%s", lab.ClusterAddress, got, p.output())
	}
	out := p.output()
	mn1MAC := strings.ToLower(d.env.Lab.Host("mn1").MAC)
	if want := "someone still answers for " + lab.ClusterAddress + " (MAC " + mn1MAC; !strings.Contains(out, want) {
		t.Errorf("failover stopped without saying why (%q):\n%s", want, out)
	}
	time.Sleep(500 * time.Millisecond) // a few more samples after the stop
	arp.stop()

	if n := d.holds("mn2", lab.ClusterAddress); n != 0 {
		t.Errorf("mn2 took %s while mn1 held it", lab.ClusterAddress)
	}
	if got := d.psql("mn2", "SELECT pg_is_in_recovery()"); got != "t" {
		t.Errorf("mn2's PostgreSQL was promoted (pg_is_in_recovery %q) although the failover stopped", got)
	}
	arp.mu.Lock()
	defer arp.mu.Unlock()
	answered, byMN1 := 0, 0
	for i, macs := range arp.answers {
		answered++
		if macs[mn1MAC] {
			byMN1++
		}
		if len(macs) > 1 {
			t.Errorf("ARP request %d for %s answered by %d hosts: %v", i, lab.ClusterAddress, len(macs), macs)
		}
	}
	t.Logf("ARP samples answered: %d (by mn1: %d)", answered, byMN1)
	if byMN1 == 0 {
		t.Errorf("the ARP sampler saw no answer from mn1: it did not sample")
	}
}
