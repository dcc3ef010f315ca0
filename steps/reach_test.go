package steps

import (
	"context"
	"io"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

// A dead host counts as stopped only where the step says so.
func TestIfReachable(t *testing.T) {
	env := &Env{Transport: deadTransport{}, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name}, nil }}
	args := map[string]string{"service": "xcatd", "state": "stopped", "if_reachable": "true"}
	o, err := XCATService{Env: env}.Run(context.Background(), Call{Host: "mn1", Args: args})
	if err != nil || o.Outputs["reachable"] != "false" {
		t.Errorf("if_reachable: %v %v", o.Outputs, err)
	}
	delete(args, "if_reachable")
	if _, err := (XCATService{Env: env}).Run(context.Background(), Call{Host: "mn1", Args: args}); err == nil {
		t.Errorf("unreachable host without if_reachable: no error")
	}
}

type deadTransport struct{}

func (deadTransport) Exec(context.Context, remote.Host, remote.Command) (remote.Result, error) {
	return remote.Result{Exit: -1}, io.ErrUnexpectedEOF
}
func (deadTransport) Close() error { return nil }
