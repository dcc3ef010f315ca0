package lab

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// SetupSignalTeardown tears l down and exits (status 128+signal) when the
// process gets SIGINT, SIGTERM or SIGHUP, for a process that owns the lab
// for its lifetime (e.g. `make demo`). The returned func uninstalls the
// handler. To abandon an Up in progress, cancel Up's context instead (see
// the package doc): Up tears down what it built.
func SetupSignalTeardown(l *Lab) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "lab %s: %v: tearing down\n", l.Prefix, sig)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			err := l.Down(ctx)
			cancel()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			code := 1
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			os.Exit(code)
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}
