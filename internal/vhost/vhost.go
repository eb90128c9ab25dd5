// Package vhost recognises virtual-host-style S3 addresses: a Host of
// "<bucket>.<domain>[:port]" for a configured domain.
package vhost

import (
	"net"
	"strings"
)

// Domains are the domains under which a Host names a bucket, lower-case,
// without ports, outer dots or empty entries. Build them with Normalise.
type Domains []string

// Normalise lower-cases domains and drops ports, outer dots and empty
// entries.
func Normalise(in []string) Domains {
	out := make(Domains, 0, len(in))
	for _, d := range in {
		d = strings.TrimSpace(d)
		if h, _, err := net.SplitHostPort(d); err == nil {
			d = h
		}
		d = strings.ToLower(strings.Trim(d, "."))
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Bucket returns the bucket host names when host is
// "<bucket>.<domain>[:port]" for one of d, else "". The bucket is never
// empty when host names one.
func (d Domains) Bucket(host string) string {
	if len(d) == 0 || host == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, dom := range d {
		if len(host) > len(dom)+1 && strings.HasSuffix(host, dom) && host[len(host)-len(dom)-1] == '.' {
			return host[:len(host)-len(dom)-1]
		}
	}
	return ""
}
