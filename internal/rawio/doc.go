// Package rawio wraps TCP connections so that their reads and writes do not
// wake the Go runtime's monitor thread (sysmon).
//
// Every system call a goroutine makes through the syscall package goes
// through the runtime's entersyscall, which wakes sysmon when it sleeps.
// sysmon then polls every 20 µs while any P runs, and goes back to sleep
// only once the process is idle again. A process that wakes for a short
// burst of work (an event, a request, its answer) pays for that on every
// burst: on a paravirtualised machine, where each of sysmon's sleeps is
// a system call and two thread switches, it was about a fifth of a
// config-sync reader's CPU per IAM change.
//
// A read or write on a non-blocking socket never blocks: it copies what
// the kernel has, or fails with EAGAIN. Conn makes those calls with
// syscall.RawSyscall from the callbacks of the connection's
// syscall.RawConn, which waits for readiness in the runtime's network
// poller (deadlines included) exactly as net.Conn does. Nothing else
// changes: the connection is still a *net.TCPConn for Close, deadlines,
// addresses and options.
//
// It is for connections that carry small messages (a NATS subscription, a
// conditional GET): a raw system call holds its P for as long as it runs,
// which for a copy of a few KiB is microseconds.
package rawio

import (
	"net"
	"time"
)

// Dialer dials TCP connections and wraps them (Wrap). Its Dial method is
// the one nats.go's CustomDialer asks for.
type Dialer struct {
	// Timeout bounds the connection's set-up (net.Dialer.Timeout).
	Timeout time.Duration
	// KeepAlive is the TCP keep-alive period (net.Dialer.KeepAlive).
	KeepAlive time.Duration
}

// Dial connects to address on network and wraps the connection.
func (d Dialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
