package steps

import (
	"context"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

func TestShellAction(t *testing.T) {
	env := &Env{Transport: remote.Router{Local: remote.Local{}}}
	acts := textActions(env)
	sh := acts["shell"]
	o, err := sh.Run(context.Background(), Call{Args: map[string]string{"cmd": "printf 'a\\nb\\n'", "items": "lines"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Items) != 2 || o.Items[0]["name"] != "a" || o.Items[1]["name"] != "b" {
		t.Errorf("items = %v", o.Items)
	}
	_, err = sh.Run(context.Background(), Call{Args: map[string]string{"cmd": "echo boom >&2; exit 4"}})
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("want exit status 4 with stderr, got %v", err)
	}
	if _, err = sh.Run(context.Background(), Call{Args: map[string]string{"cmd": "exit 1", "ok_exit": "0,1"}}); err != nil {
		t.Errorf("ok_exit 0,1: %v", err)
	}
	_, err = sh.Run(context.Background(), Call{Host: "mn1", Args: map[string]string{"cmd": "true"}})
	if err == nil || !strings.Contains(err.Error(), "mn1") {
		t.Errorf("a remote host without inventory: %v", err)
	}
}
