package db2model

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CommandNames lists the names the model binary answers to; Install links
// each of them to the binary.
func CommandNames() []string { return []string{"db2", "db2pd", "db2gcf", "db2start", "db2stop"} }

// DefaultPassword is the instance owner's password the guide uses.
const DefaultPassword = "cluster"

// initialLSN puts a new database's log at S0000002.LOG page 18, like the
// guide's sample.
const initialLSN = 2*1024*logPageSize + 18*logPageSize + 0xD7C

// Install lays the model out in a host whose root directory is root as seen
// from outside: exe (a built cmd/db2model) is copied to
// root+instanceHome/sqllib/bin/db2model with the Db2 command names linked to
// it, sqllib/db2profile and sqllib/db2nodes.cfg ("0 HOSTNAME 0") are written,
// instanceHome/.profile sources db2profile and puts sqllib/bin on PATH, and a
// started instance with database XCATDB (a few nodelist rows) is created in
// sqllib/model unless it exists already. When run as root, the files are
// given to the instance user found in root/etc/passwd.
func Install(root, exe, instance, instanceHome string) error {
	if instance == "" || !filepath.IsAbs(instanceHome) {
		return fmt.Errorf("install db2 model: need an instance name and an absolute home, got %q %q", instance, instanceHome)
	}
	home := filepath.Join(root, instanceHome)
	sqllib := filepath.Join(home, "sqllib")
	bin := filepath.Join(sqllib, "bin")
	model := filepath.Join(sqllib, "model")
	for _, d := range []string{bin, model} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("install db2 model: %w", err)
		}
	}
	if err := copyFile(exe, filepath.Join(bin, "db2model"), 0o755); err != nil {
		return fmt.Errorf("install db2 model: %w", err)
	}
	for _, name := range CommandNames() {
		link := filepath.Join(bin, name)
		_ = os.Remove(link)
		if err := os.Symlink("db2model", link); err != nil {
			return fmt.Errorf("install db2 model: %w", err)
		}
	}
	hostname := hostOf(root)
	nodes := filepath.Join(sqllib, "db2nodes.cfg")
	if _, err := os.Stat(nodes); err != nil {
		if err := os.WriteFile(nodes, []byte(fmt.Sprintf("0 %s 0\n", hostname)), 0o644); err != nil {
			return fmt.Errorf("install db2 model: %w", err)
		}
	}
	profile := fmt.Sprintf(`# Db2 instance environment (hamnflow Db2 model)
DB2INSTANCE=%s
export DB2INSTANCE
INSTHOME=%s
export INSTHOME
PATH="$INSTHOME/sqllib/bin:$PATH"
export PATH
`, instance, instanceHome)
	if err := os.WriteFile(filepath.Join(sqllib, "db2profile"), []byte(profile), 0o755); err != nil {
		return fmt.Errorf("install db2 model: %w", err)
	}
	if err := appendProfile(filepath.Join(home, ".profile"), instanceHome); err != nil {
		return fmt.Errorf("install db2 model: %w", err)
	}
	store := Store{Dir: model}
	if _, err := os.Stat(store.path("state.json")); err != nil {
		st := NewState(instance, time.Now())
		if err := store.save(st); err != nil {
			return fmt.Errorf("install db2 model: %w", err)
		}
	}
	if os.Geteuid() == 0 {
		if uid, gid, ok := lookupUser(filepath.Join(root, "etc/passwd"), instance); ok {
			_ = filepath.Walk(sqllib, func(p string, _ os.FileInfo, err error) error {
				if err == nil {
					_ = os.Lchown(p, uid, gid)
				}
				return nil
			})
			_ = os.Lchown(filepath.Join(home, ".profile"), uid, gid)
		}
	}
	return nil
}

// NewState is a started instance with database XCATDB as created by xCAT's
// DB2 setup: circular logging, role STANDARD and a few nodes.
func NewState(instance string, now time.Time) *State {
	seedSum := sha256.Sum256([]byte(strings.ToLower(instance) + "/XCATDB"))
	seed := hex.EncodeToString(seedSum[:8])
	s := func(v string) *string { return &v }
	db := &Database{
		Name: "XCATDB", Seed: seed, Created: now, Role: RoleStandard, Cfg: defaultCfg(),
		Tables: map[string]*Table{"NODELIST": {
			Name: "NODELIST",
			Cols: []Column{{"NODE", 32}, {"GROUPS", 64}, {"STATUS", 32}},
			Rows: [][]*string{
				{s("sn01"), s("service,all"), s("booted")},
				{s("node01"), s("compute,all"), s("booted")},
				{s("node02"), s("compute,all"), nil},
			},
		}},
		Log: Log{BaseLSN: initialLSN, BaseHash: seed, LSN: initialLSN, Hash: seed},
	}
	return &State{Version: 1, Instance: instance, Up: true, StartedAt: now, Password: DefaultPassword,
		DBs: map[string]*Database{"XCATDB": db}}
}

func hostOf(root string) string {
	if b, err := os.ReadFile(filepath.Join(root, "etc/hostname")); err == nil {
		if h := strings.TrimSpace(string(b)); h != "" {
			return h
		}
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

func appendProfile(path, instanceHome string) error {
	const marker = "# hamnflow Db2 model"
	b, err := os.ReadFile(path)
	if err == nil && strings.Contains(string(b), marker) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n%s\nPATH=\"%s/sqllib/bin:$PATH\"\nexport PATH\nif [ -f %s/sqllib/db2profile ]; then . %s/sqllib/db2profile; fi\n",
		marker, instanceHome, instanceHome, instanceHome)
	return err
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func lookupUser(passwd, name string) (int, int, bool) {
	f, err := os.Open(passwd)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) >= 4 && p[0] == name {
			uid, err1 := strconv.Atoi(p[2])
			gid, err2 := strconv.Atoi(p[3])
			return uid, gid, err1 == nil && err2 == nil
		}
	}
	return 0, 0, false
}

// SetPassword sets the instance owner's password that USER ... USING is
// checked against, in the model directory dir (sqllib/model), keeping the
// owner of the state and lock files (a lab runs this as root for the
// instance user).
func SetPassword(dir, password string) error {
	store := Store{Dir: dir}
	fi, err := os.Stat(store.path("state.json"))
	if err != nil {
		return fmt.Errorf("set db2 model password: %w", err)
	}
	err = store.Update(func(st *State) error {
		st.Password = password
		return nil
	})
	if err != nil {
		return fmt.Errorf("set db2 model password: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		for _, f := range []string{"state.json", "lock"} {
			if err := os.Chown(store.path(f), int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("set db2 model password: %w", err)
			}
		}
	}
	return nil
}
