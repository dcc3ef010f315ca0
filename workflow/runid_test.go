package workflow

import (
	"testing"
	"time"
)

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 12, 4, 20, 1, 2, 3e6, time.UTC)
	id := NewRunID(at, "")
	if len(id) != 20 || id[:16] != "20261204-200102-" {
		t.Fatalf("NewRunID = %q", id)
	}
	for _, tt := range []struct{ last, want string }{
		{"20261204-200102-ffff", ""},                     // cannot go past: a fresh id
		{"20261204-200102-0fff", "20261204-200102-1000"}, // same second, later: one past it
		{"20261204-200101-ffff", ""},                     // an earlier second: a fresh id
	} {
		got := NewRunID(at, tt.last)
		if tt.want != "" && got != tt.want || tt.want == "" && got[:16] != "20261204-200102-" {
			t.Errorf("NewRunID(at, %q) = %q, want %q", tt.last, got, tt.want)
		}
	}
}
