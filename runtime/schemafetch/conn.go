package schemafetch

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar/auth"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// protocolVersion is the protocol version we announce. 20 is what
// pulsar-client-go v0.19.0 announces; GetSchema needs 13 or later and
// AuthChallenge 14 or later.
const protocolVersion = 20

// controlWriteTimeout bounds writes the read loop makes on its own (Pong,
// AuthResponse), which have no caller context to take a deadline from.
const controlWriteTimeout = 10 * time.Second

// connError is a failure of the connection itself (as opposed to an answer
// from the broker): the request may be retried on a new connection.
type connError struct {
	addr string
	err  error
}

func (e *connError) Error() string { return fmt.Sprintf("broker %s: %v", e.addr, e.err) }
func (e *connError) Unwrap() error { return e.err }

// conn is one handshaken connection to a broker. Requests are matched to
// answers by request id, so any number of goroutines may use it at once.
type conn struct {
	addr          string
	nc            net.Conn
	auth          auth.Provider
	clientVersion string

	writeMu sync.Mutex

	// lastRead is when the read loop last received a frame (UnixNano); a
	// request that times out with nothing received since it was sent
	// means the connection is dead, not the broker slow.
	lastRead atomic.Int64

	mu      sync.Mutex
	pending map[uint64]chan *wirepb.BaseCommand
	err     error         // why the connection closed; set once
	done    chan struct{} // closed when err is set
}

// dialConn connects to addr ("host:port"), runs TLS when tlsConf is not
// nil, and performs the CONNECT/CONNECTED handshake, all within ctx.
func dialConn(ctx context.Context, addr string, tlsConf *tls.Config, ap auth.Provider, clientVersion string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &connError{addr, err}
	}
	// Deadlines are how a blocked read or write notices the context: a
	// cancelled context moves the deadline into the past.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*conn, error) {
		stop()
		_ = nc.Close()
		// The connection's deadlines all come from ctx, and their timer
		// may fire just before the context's own.
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%v)", cerr, err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return nil, &connError{addr, err}
	}

	if tlsConf != nil {
		cfg := tlsConf.Clone()
		host, _, _ := net.SplitHostPort(addr)
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if cert, err := ap.GetTLSCertificate(); err != nil {
			return fail(fmt.Errorf("auth provider %s: TLS client certificate: %w", ap.Name(), err))
		} else if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("TLS handshake: %w", err))
		}
		nc = tc
	}

	c := &conn{
		addr:          addr,
		nc:            nc,
		auth:          ap,
		clientVersion: clientVersion,
		pending:       make(map[uint64]chan *wirepb.BaseCommand),
		done:          make(chan struct{}),
	}
	br := bufio.NewReader(nc)
	if err := c.handshake(br); err != nil {
		return fail(err)
	}
	if !stop() {
		// The context ended just as the handshake finished; the deadline
		// it set would break the first read, so give the connection up.
		return fail(errors.New("handshake finished after the context ended"))
	}
	_ = nc.SetDeadline(time.Time{})
	c.lastRead.Store(time.Now().UnixNano())
	go c.readLoop(br)
	return c, nil
}

// handshake sends CONNECT and waits for CONNECTED, answering what the
// broker may send first (an AuthChallenge, a Ping).
func (c *conn) handshake(br *bufio.Reader) error {
	data, err := c.auth.GetData()
	if err != nil {
		return fmt.Errorf("auth provider %s: auth data: %w", c.auth.Name(), err)
	}
	connect := &wirepb.BaseCommand{
		Type: wirepb.BaseCommand_CONNECT.Enum(),
		Connect: &wirepb.CommandConnect{
			ClientVersion:   proto.String(c.clientVersion),
			ProtocolVersion: proto.Int32(protocolVersion),
			AuthMethodName:  proto.String(c.auth.Name()),
			AuthData:        data,
			// We answer AuthChallenge, so the broker may refresh expiring
			// credentials instead of dropping the connection.
			FeatureFlags: &wirepb.FeatureFlags{SupportsAuthRefresh: proto.Bool(true)},
		},
	}
	if err := c.writeRaw(connect); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	for {
		cmd, err := readFrame(br)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		switch cmd.GetType() {
		case wirepb.BaseCommand_CONNECTED:
			return nil
		case wirepb.BaseCommand_ERROR:
			e := cmd.GetError()
			return fmt.Errorf("broker refused CONNECT: %s: %s", e.GetError(), e.GetMessage())
		case wirepb.BaseCommand_AUTH_CHALLENGE:
			if err := c.answerChallenge(c.writeRaw); err != nil {
				return err
			}
		case wirepb.BaseCommand_PING:
			if err := c.writeRaw(pongCommand()); err != nil {
				return fmt.Errorf("send PONG: %w", err)
			}
		}
	}
}

func pongCommand() *wirepb.BaseCommand {
	return &wirepb.BaseCommand{Type: wirepb.BaseCommand_PONG.Enum(), Pong: &wirepb.CommandPong{}}
}

// answerChallenge replies to an AuthChallenge with the provider's current
// data; for the token, basic and OAuth2 providers that is the refreshed
// credential the broker asks for. send is how to write (the handshake's
// deadline, or the read loop's own).
func (c *conn) answerChallenge(send func(*wirepb.BaseCommand) error) error {
	data, err := c.auth.GetData()
	if err != nil {
		return fmt.Errorf("auth provider %s: auth data for challenge: %w", c.auth.Name(), err)
	}
	if data == nil {
		// The broker rejects an AuthData without auth_data.
		data = []byte{}
	}
	resp := &wirepb.BaseCommand{
		Type: wirepb.BaseCommand_AUTH_RESPONSE.Enum(),
		AuthResponse: &wirepb.CommandAuthResponse{
			ClientVersion:   proto.String(c.clientVersion),
			ProtocolVersion: proto.Int32(protocolVersion),
			Response: &wirepb.AuthData{
				AuthMethodName: proto.String(c.auth.Name()),
				AuthData:       data,
			},
		},
	}
	if err := send(resp); err != nil {
		return fmt.Errorf("send AUTH_RESPONSE: %w", err)
	}
	return nil
}

// writeRaw writes one frame under the write lock with whatever deadline is
// set on the connection.
func (c *conn) writeRaw(cmd *wirepb.BaseCommand) error {
	frame, err := encodeFrame(cmd)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err = c.nc.Write(frame)
	return err
}

// write writes one frame, giving up at deadline. A failed write may have
// left half a frame on the wire, so it closes the connection.
func (c *conn) write(cmd *wirepb.BaseCommand, deadline time.Time) error {
	frame, err := encodeFrame(cmd)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	_ = c.nc.SetWriteDeadline(deadline)
	_, err = c.nc.Write(frame)
	c.writeMu.Unlock()
	if err != nil {
		c.close(fmt.Errorf("send %s: %w", cmd.GetType(), err))
		return c.closedErr()
	}
	return nil
}

func (c *conn) readLoop(br *bufio.Reader) {
	for {
		cmd, err := readFrame(br)
		if err != nil {
			c.close(fmt.Errorf("read: %w", err))
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		switch cmd.GetType() {
		case wirepb.BaseCommand_PING:
			// The broker closes connections that stop answering its
			// keep-alive probes.
			_ = c.write(pongCommand(), time.Now().Add(controlWriteTimeout))
		case wirepb.BaseCommand_AUTH_CHALLENGE:
			send := func(cmd *wirepb.BaseCommand) error {
				return c.write(cmd, time.Now().Add(controlWriteTimeout))
			}
			if err := c.answerChallenge(send); err != nil {
				c.close(err)
				return
			}
		case wirepb.BaseCommand_GET_SCHEMA_RESPONSE:
			c.deliver(cmd.GetGetSchemaResponse().GetRequestId(), cmd)
		case wirepb.BaseCommand_ERROR:
			c.deliver(cmd.GetError().GetRequestId(), cmd)
		}
		// Anything else (a Pong, a command type newer than our .proto
		// which decodes with no type) concerns no request of ours.
	}
}

func (c *conn) deliver(id uint64, cmd *wirepb.BaseCommand) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- cmd // buffered; one answer per id
	}
}

// close ends the connection with err; the first error wins. Pending
// requests see it through done.
func (c *conn) close(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
}

func (c *conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &connError{c.addr, c.err}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// request sends cmd, registered under id, and waits for the answer with
// that id (a GetSchemaResponse or an Error). Errors are *connError when the
// connection failed, or the context's error.
func (c *conn) request(ctx context.Context, id uint64, cmd *wirepb.BaseCommand, timeout time.Duration) (*wirepb.BaseCommand, error) {
	ch := make(chan *wirepb.BaseCommand, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	sent := time.Now().UnixNano()
	if err := c.write(cmd, deadline); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-c.done:
		return nil, c.closedErr()
	case <-ctx.Done():
		if c.lastRead.Load() < sent {
			// Silence since we asked: the peer or the path is gone (a
			// half-open TCP connection never errors by itself). Drop the
			// connection so the next request dials a fresh one.
			c.close(fmt.Errorf("no frame received within %v of a request", time.Since(time.Unix(0, sent)).Round(time.Millisecond)))
		}
		return nil, ctx.Err()
	}
}
