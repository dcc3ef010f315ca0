package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// tcpipConfig is a parsed mktcpip command line.
type tcpipConfig struct {
	Host, Addr, Mask, Iface, Gateway string
	Nameserver, Domain, Cable        string
	Autoconf                         string // -A yes|no
	Start                            bool   // -s
}

const mktcpipUsage = `Usage: mktcpip {-S interface | -h hostname -a address -i interface [-s]
        [-m subnet_mask] [-r ringspeed] [-t cabletype] [-g gateway]
        [-A {yes|no}] [-n nameserver_address -d domain] [-c subchannel -D destination]}`

// parseMktcpip parses AIX's mktcpip arguments. Values may be attached
// (-h'aixmn1' reaches the program as -haixmn1) or separate; -s takes no
// value: an empty value given to it (the guide's -s with empty quotes)
// leaves an empty operand, which is ignored.
func parseMktcpip(args []string) (tcpipConfig, error) {
	opts, operands, err := getopt(args, "h:a:m:i:g:n:d:t:r:A:c:D:S:s")
	if err != nil {
		return tcpipConfig{}, err
	}
	for _, op := range operands {
		if op != "" {
			return tcpipConfig{}, fmt.Errorf("unexpected argument %q", op)
		}
	}
	var c tcpipConfig
	for _, o := range opts {
		switch o.c {
		case 'h':
			c.Host = o.val
		case 'a':
			c.Addr = o.val
		case 'm':
			c.Mask = o.val
		case 'i':
			c.Iface = o.val
		case 'g':
			c.Gateway = o.val
		case 'n':
			c.Nameserver = o.val
		case 'd':
			c.Domain = o.val
		case 't':
			c.Cable = o.val
		case 'A':
			c.Autoconf = o.val
		case 's':
			c.Start = true
		}
	}
	if c.Host == "" || c.Addr == "" || c.Iface == "" {
		return c, errors.New("-h, -a and -i are required")
	}
	if _, err := netip.ParseAddr(c.Addr); err != nil {
		return c, fmt.Errorf("0821-510 mktcpip: %s is not a valid address", c.Addr)
	}
	if c.Autoconf != "" && c.Autoconf != "yes" && c.Autoconf != "no" {
		return c, fmt.Errorf("-A takes yes or no, not %q", c.Autoconf)
	}
	return c, nil
}

// maskPrefix converts a dotted IPv4 netmask to its prefix length; an empty
// mask is the classful default of addr.
func maskPrefix(mask, addr string) (int, error) {
	if mask == "" {
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			return 0, fmt.Errorf("no subnet mask for %s", addr)
		}
		switch b := a.As4()[0]; {
		case b < 128:
			return 8, nil
		case b < 192:
			return 16, nil
		default:
			return 24, nil
		}
	}
	ip := net.ParseIP(mask).To4()
	if ip == nil {
		return 0, fmt.Errorf("0821-511 mktcpip: %s is not a valid subnet mask", mask)
	}
	ones, bits := net.IPMask(ip).Size()
	if bits == 0 {
		return 0, fmt.Errorf("0821-511 mktcpip: %s is not a valid subnet mask", mask)
	}
	return ones, nil
}

// mapInterface maps an AIX adapter name to the lab host's interface: the
// name itself if the host has it, otherwise eth0 for AIX's enN.
func mapInterface(name string, exists func(string) bool) string {
	if exists(name) || !strings.HasPrefix(name, "en") {
		return name
	}
	return "eth0"
}

func interfaceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// mktcpip sets the host name and the cluster-facing address as AIX's
// mktcpip does: "hostname HOST" and "ip addr replace ADDR/PREFIX dev IF".
// With XCAT_STANDIN_DRYRUN=1 it prints those actions instead.
func (a *app) mktcpip() int {
	c, err := parseMktcpip(a.args)
	if err != nil {
		fmt.Fprintf(a.stderr, "mktcpip: %v\n%s\n", err, mktcpipUsage)
		return 1
	}
	prefix, err := maskPrefix(c.Mask, c.Addr)
	if err != nil {
		fmt.Fprintf(a.stderr, "%v\n", err)
		return 1
	}
	dry := os.Getenv("XCAT_STANDIN_DRYRUN") == "1"
	exists := interfaceExists
	if dry {
		exists = func(string) bool { return false }
	}
	dev := mapInterface(c.Iface, exists)
	ipArgs := []string{"addr", "replace", fmt.Sprintf("%s/%d", c.Addr, prefix), "dev", dev}
	if dry {
		fmt.Fprintf(a.stderr, "dry-run: ip %s\n", strings.Join(ipArgs, " "))
		fmt.Fprintf(a.stderr, "dry-run: hostname %s\n", c.Host)
	} else {
		if out, err := exec.Command("ip", ipArgs...).CombinedOutput(); err != nil {
			fmt.Fprintf(a.stderr, "0821-223 mktcpip: cannot set address %s on %s (%s): %s\n", c.Addr, c.Iface, dev, strings.TrimSpace(string(out)))
			return 1
		}
		if err := syscall.Sethostname([]byte(c.Host)); err != nil {
			fmt.Fprintf(a.stderr, "0821-224 mktcpip: cannot set the host name to %s: %v\n", c.Host, err)
			return 1
		}
	}
	a.printf("%s\n%s\ninet0 changed\n", c.Iface, c.Host)
	return 0
}
