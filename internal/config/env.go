package config

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// host is what defaults take from the machine.
type host struct {
	name string // host name
	home string // home directory
	ipv4 string // first non-loopback IPv4 address
}

// lookupHost reads the host name, home directory and addresses; what it
// cannot find stays empty.
func lookupHost() host {
	var h host
	h.name, _ = os.Hostname()
	h.home, _ = os.UserHomeDir()
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			p, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(p.IP)
			if ip = ip.Unmap(); ok && ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				h.ipv4 = ip.String()
				break
			}
		}
	}
	return h
}

// DefaultBrokerName is the broker name used when the host name gives none.
const DefaultBrokerName = "broker-a"

// brokerName derives a broker name from a host name, as RocketMQ does, but
// only the first label and only characters a topic name may hold (the
// broker name is also a topic): "mq-1.example.com" → "mq-1".
func (h host) brokerName() string {
	label, _, _ := strings.Cut(h.name, ".")
	b := []byte(label)
	for i, c := range b {
		if !validName(string(c)) {
			b[i] = '-'
		}
	}
	if name := strings.Trim(string(b), "-"); validName(name) {
		return name
	}
	return DefaultBrokerName
}

// ip returns the advertised address default: the first non-loopback IPv4
// address, else 127.0.0.1.
func (h host) ip() string {
	if h.ipv4 == "" {
		return "127.0.0.1"
	}
	return h.ipv4
}

// under returns home/elem…, or elem… relative to the working directory
// when there is no home.
func (h host) under(elem ...string) string {
	return filepath.Join(append([]string{h.home}, elem...)...)
}
