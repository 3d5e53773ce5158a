//go:build linux

package rio

import (
	"strings"
	"testing"
)

// TestParseEndpointNamesUDPNetwork: a family mismatch on a udp network is
// reported with that network, not the tcp one it is parsed alongside.
func TestParseEndpointNamesUDPNetwork(t *testing.T) {
	for _, tc := range []struct{ network, address, want string }{
		{"udp6", "1.2.3.4:5", "is IPv4, network udp6"},
		{"udp4", "[::1]:5", "is IPv6, network udp4"},
		{"tcp6", "1.2.3.4:5", "is IPv4, network tcp6"},
	} {
		_, err := parseEndpoint(tc.network, tc.address)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseEndpoint(%q, %q) = %v, want an error saying %q", tc.network, tc.address, err, tc.want)
		}
	}
	for network, want := range map[string]string{"udp": "udp", "udp4": "udp", "tcp6": "tcp"} {
		if ep, err := parseEndpoint(network, ":0"); err != nil || ep.network != want {
			t.Errorf("parseEndpoint(%q, \":0\") = %q, %v, want network %q", network, ep.network, err, want)
		}
	}
}
