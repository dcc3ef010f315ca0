package workflow

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// masker replaces every secret value it knows with Mask.
type masker struct {
	mu      sync.RWMutex
	secrets []string
}

func (m *masker) add(values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range values {
		if v != "" && !containsString(m.secrets, v) {
			m.secrets = append(m.secrets, v)
		}
	}
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (m *masker) apply(s string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.secrets {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}

// maskWriter masks whole lines before passing them on, so a secret split
// across two writes is still caught.
type maskWriter struct {
	w   io.Writer
	m   *masker
	mu  sync.Mutex
	buf []byte
}

func (w *maskWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		if _, err := io.WriteString(w.w, w.m.apply(string(w.buf[:i+1]))); err != nil {
			return 0, err
		}
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
	return len(p), nil
}

// Flush writes what is left after the last newline.
func (w *maskWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		io.WriteString(w.w, w.m.apply(string(w.buf)))
		w.buf = w.buf[:0]
	}
}

// capText keeps the head and tail of s within limit bytes, marking the cut.
func capText(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	half := limit / 2
	return fmt.Sprintf("%s\n[... %d bytes cut by hamnflow ...]\n%s", s[:half], len(s)-2*half, s[len(s)-half:]), true
}
