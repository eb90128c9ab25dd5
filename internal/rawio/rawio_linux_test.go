package rawio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection, the first one
// wrapped.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			c = nil
		}
		accepted <- c
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	peer := <-accepted
	if peer == nil {
		t.FailNow()
	}
	w := Wrap(c)
	t.Cleanup(func() {
		w.Close()
		peer.Close()
	})
	return w, peer
}

func TestWrap(t *testing.T) {
	c, _ := pair(t)
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Wrap of a TCP connection: %T, want *Conn", c)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap of a pipe: %T, want the pipe itself", got)
	}
}

// TestRoundTrip sends more than the socket buffers hold both ways, so
// that writes are partial and wait for the peer (EAGAIN), and reads wait
// for data.
func TestRoundTrip(t *testing.T) {
	c, peer := pair(t)
	out := make([]byte, 32<<20)
	if _, err := rand.Read(out); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var echoErr error
	wg.Go(func() {
		// The peer echoes what it reads, slowly at first.
		buf := make([]byte, 1000)
		for total := 0; total < len(out); {
			if total < 64<<10 {
				time.Sleep(time.Millisecond)
			}
			n, err := peer.Read(buf)
			if err != nil {
				echoErr = err
				return
			}
			if _, err := peer.Write(buf[:n]); err != nil {
				echoErr = err
				return
			}
			total += n
		}
	})
	var in []byte
	var readErr error
	wg.Go(func() {
		in, readErr = io.ReadAll(io.LimitReader(c, int64(len(out))))
	})
	n, err := c.Write(out)
	if err != nil || n != len(out) {
		t.Fatalf("Write: %d, %v; want %d", n, err, len(out))
	}
	wg.Wait()
	if echoErr != nil || readErr != nil {
		t.Fatalf("echo: %v; read: %v", echoErr, readErr)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("read back %d bytes, not the %d written", len(in), len(out))
	}
}

func TestEOF(t *testing.T) {
	c, peer := pair(t)
	if _, err := peer.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last" {
		t.Fatalf("ReadAll after the peer closed: %q, %v", got, err)
	}
	if n, err := c.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF: %d, %v", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	c, _ := pair(t)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read past its deadline: %#v, want a net.OpError of op read", err)
	}
}

func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t) // the peer never reads: the socket buffers fill
	if err := c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Write(make([]byte, 64<<20))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write past its deadline: %d, %v; want a timeout", n, err)
	}
	if n >= 64<<20 {
		t.Fatalf("Write past its deadline wrote all %d bytes", n)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" || oe.Addr == nil || oe.Addr.String() != c.RemoteAddr().String() {
		t.Fatalf("Write past its deadline: %#v, want a net.OpError of op write to the peer", err)
	}
}

func TestClosed(t *testing.T) {
	c, _ := pair(t)
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestPeerReset(t *testing.T) {
	c, peer := pair(t)
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // RST
	var err error
	for range 100 { // the RST arrives after the first write
		if _, err = c.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("Write to a reset connection: %v, want a write error (ECONNRESET or EPIPE)", err)
	}
}

func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo until the client closes
	})
	c, err := Dialer{Timeout: 5 * time.Second}.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Dial: %T, want *Conn", c)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if _, err := (Dialer{}).Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("Dial to a closed port: no error")
	}
}
