// Command dhcpprobe asks the network for a DHCP lease as a node would and
// prints every offer it gets, so that a test can check which servers
// answer for a node (one, and the right one). It sends one DHCPDISCOVER
// (RFC 2131) with the node's MAC as chaddr and the broadcast flag set, so
// that servers broadcast their DHCPOFFER back, and listens for -wait.
//
//	dhcpprobe -mac 02:42:c6:33:65:01 [-iface eth0] [-wait 3s]
//
// prints one line per offer: "offer yiaddr=198.51.100.111 server=198.51.100.12".
// It exits 1 on an error, and 0 otherwise (no offer is no error: the test
// decides).
package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	macFlag := flag.String("mac", "", "the node's MAC (chaddr)")
	wait := flag.Duration("wait", 3*time.Second, "how long to collect offers")
	iface := flag.String("iface", "eth0", "the interface to ask on")
	flag.Parse()
	mac, err := net.ParseMAC(*macFlag)
	if err != nil || len(mac) != 6 {
		fmt.Fprintf(os.Stderr, "dhcpprobe: -mac %q: want an Ethernet MAC\n", *macFlag)
		os.Exit(2)
	}
	if err := probe(*iface, mac, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "dhcpprobe:", err)
		os.Exit(1)
	}
}

// discover is a DHCPDISCOVER for mac with transaction id xid.
func discover(mac net.HardwareAddr, xid uint32) []byte {
	p := make([]byte, 240, 300)
	p[0], p[1], p[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen
	binary.BigEndian.PutUint32(p[4:], xid)
	binary.BigEndian.PutUint16(p[10:], 0x8000) // broadcast flag
	copy(p[28:], mac)
	copy(p[236:], []byte{99, 130, 83, 99}) // magic cookie
	p = append(p, 53, 1, 1)                // DHCP message type: DISCOVER
	p = append(p, 61, 7, 1)                // client identifier: type 1 + MAC
	p = append(p, mac...)
	p = append(p, 55, 3, 1, 3, 6) // parameters: subnet mask, router, DNS
	return append(p, 255)
}

// offer reads a DHCPOFFER for xid: the address offered and the server's
// identifier (option 54).
func offer(p []byte, xid uint32) (yiaddr, server net.IP, ok bool) {
	if len(p) < 240 || p[0] != 2 || binary.BigEndian.Uint32(p[4:]) != xid || string(p[236:240]) != "\x63\x82\x53\x63" {
		return nil, nil, false
	}
	yiaddr = net.IP(p[16:20])
	typ := byte(0)
	for o := p[240:]; len(o) > 0 && o[0] != 255; {
		if o[0] == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		v := o[2 : 2+int(o[1])]
		switch o[0] {
		case 53:
			if len(v) == 1 {
				typ = v[0]
			}
		case 54:
			if len(v) == 4 {
				server = net.IP(v)
			}
		}
		o = o[2+int(o[1]):]
	}
	return yiaddr, server, typ == 2
}

func probe(iface string, mac net.HardwareAddr, wait time.Duration) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_UDP)
	if err != nil {
		return err
	}
	for _, o := range []int{syscall.SO_BROADCAST, syscall.SO_REUSEADDR} {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, o, 1); err != nil {
			return err
		}
	}
	// A broadcast leaves by the interface the socket is bound to (a lab
	// host has no default route).
	if err := syscall.BindToDevice(fd, iface); err != nil {
		return fmt.Errorf("bind to %s: %w", iface, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 68}); err != nil {
		return fmt.Errorf("bind UDP port 68 (is a DHCP client running here?): %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp")
	conn, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	xid := binary.BigEndian.Uint32(b[:])
	if _, err := conn.WriteTo(discover(mac, xid), &net.UDPAddr{IP: net.IPv4bcast, Port: 67}); err != nil {
		return fmt.Errorf("send DHCPDISCOVER: %w", err)
	}
	deadline := time.Now().Add(wait)
	buf := make([]byte, 1500)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return err
		}
		n, from, err := conn.ReadFrom(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err != nil {
			return err
		}
		if yiaddr, server, ok := offer(buf[:n], xid); ok {
			if server == nil {
				server = from.(*net.UDPAddr).IP
			}
			fmt.Printf("offer yiaddr=%s server=%s\n", yiaddr, server)
		}
	}
}
