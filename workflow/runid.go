package workflow

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"time"
)

// NewRunID returns a run id for a run started at t: its UTC time to the
// second and 4 hex digits, the millisecond (times 16) and a random digit,
// e.g. "20261125-200102-7f3a". When last, the newest id a store holds, is
// of the same second and sorts after it, the id is the one past last, so
// that ids keep the order in which runs were started (history lists runs
// newest first by their ids). Every Store assigns ids this way.
func NewRunID(t time.Time, last string) string {
	var b [1]byte
	rand.Read(b[:])
	ms := t.UTC().Nanosecond() / 1e6
	id := fmt.Sprintf("%s-%04x", t.UTC().Format("20060102-150405"), ms*16+int(b[0]&15))
	if len(last) != len(id) || last[:16] != id[:16] || last < id {
		return id
	}
	n, err := strconv.ParseUint(last[16:], 16, 16)
	if err != nil || n == 0xffff {
		return id
	}
	return fmt.Sprintf("%s%04x", id[:16], n+1)
}
