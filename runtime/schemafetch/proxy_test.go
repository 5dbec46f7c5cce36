package schemafetch

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// wireProxy sits between the fetcher and the real broker and relays whole
// frames, so a test can see what the fetcher sends and make conditions the
// broker will not make on demand: a connection cut, a Ping (the broker
// pings only after 30 s idle), an AuthChallenge (the dev broker runs
// without authentication), a silent peer, or a TLS endpoint (the dev
// broker has no TLS port).
type wireProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	// tls, when set, terminates TLS on the fetcher's side.
	tls *tls.Config
	// blackhole accepts connections and then neither forwards nor answers.
	blackhole atomic.Bool
	// drop decides which fetcher frames are not forwarded to the broker
	// (e.g. an AuthResponse the unauthenticated broker would refuse).
	drop func(*wirepb.BaseCommand) bool
	// beforeForward, when set, runs for each fetcher frame before it is
	// forwarded; it may write to the fetcher with pc.send.
	beforeForward func(pc *proxyConn, cmd *wirepb.BaseCommand)

	accepted atomic.Int32

	mu     sync.Mutex
	conns  []*proxyConn
	fromFe []*wirepb.BaseCommand // every frame the fetcher sent
	seen   chan struct{}         // signalled on each fetcher frame
}

type proxyConn struct {
	client, server net.Conn
	clientMu       sync.Mutex // one writer of whole frames to the client
}

func startProxy(t *testing.T, target string, tlsConf *tls.Config) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{t: t, ln: ln, target: target, tls: tlsConf, seen: make(chan struct{}, 1000)}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *wireProxy) addr() string { return p.ln.Addr().String() }

func (p *wireProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.tls != nil {
			c = tls.Server(c, p.tls)
		}
		if p.blackhole.Load() {
			p.mu.Lock()
			p.conns = append(p.conns, &proxyConn{client: c})
			p.mu.Unlock()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		go p.relayToServer(pc)
		go p.relayToClient(pc)
	}
}

// readRaw reads one frame, returning its bytes and its decoded command.
func readRaw(r io.Reader) ([]byte, *wirepb.BaseCommand, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > maxFrameSize {
		return nil, nil, errors.New("bad frame size")
	}
	frame := make([]byte, 4+n)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, nil, err
	}
	cmdSize := binary.BigEndian.Uint32(frame[4:8])
	if cmdSize > n-4 {
		return nil, nil, errors.New("bad command size")
	}
	cmd := new(wirepb.BaseCommand)
	if err := proto.Unmarshal(frame[8:8+cmdSize], cmd); err != nil {
		return nil, nil, err
	}
	return frame, cmd, nil
}

func (p *wireProxy) relayToServer(pc *proxyConn) {
	defer pc.server.Close()
	defer pc.client.Close()
	for {
		frame, cmd, err := readRaw(pc.client)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.fromFe = append(p.fromFe, cmd)
		drop := p.drop != nil && p.drop(cmd)
		before := p.beforeForward
		p.mu.Unlock()
		select {
		case p.seen <- struct{}{}:
		default:
		}
		if drop {
			continue
		}
		if before != nil {
			before(pc, cmd)
		}
		if _, err := pc.server.Write(frame); err != nil {
			return
		}
	}
}

func (p *wireProxy) relayToClient(pc *proxyConn) {
	defer pc.server.Close()
	defer pc.client.Close()
	for {
		frame, _, err := readRaw(pc.server)
		if err != nil {
			return
		}
		pc.clientMu.Lock()
		_, err = pc.client.Write(frame)
		pc.clientMu.Unlock()
		if err != nil {
			return
		}
	}
}

// send writes cmd to the fetcher on this connection.
func (pc *proxyConn) send(cmd *wirepb.BaseCommand) {
	frame, err := encodeFrame(cmd)
	if err != nil {
		panic(err)
	}
	pc.clientMu.Lock()
	_, _ = pc.client.Write(frame)
	pc.clientMu.Unlock()
}

// inject sends cmd to the fetcher on every live connection, as if the
// broker had sent it.
func (p *wireProxy) inject(cmd *wirepb.BaseCommand) {
	p.t.Helper()
	frame, err := encodeFrame(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	conns := append([]*proxyConn(nil), p.conns...)
	p.mu.Unlock()
	for _, pc := range conns {
		pc.clientMu.Lock()
		_, _ = pc.client.Write(frame)
		pc.clientMu.Unlock()
	}
}

// cut closes every connection, as a broker restart would.
func (p *wireProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		_ = pc.client.Close()
		if pc.server != nil {
			_ = pc.server.Close()
		}
	}
	p.conns = nil
}

// sent returns the fetcher's frames of type typ seen so far.
func (p *wireProxy) sent(typ wirepb.BaseCommand_Type) []*wirepb.BaseCommand {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*wirepb.BaseCommand
	for _, c := range p.fromFe {
		if c.GetType() == typ {
			out = append(out, c)
		}
	}
	return out
}

func (p *wireProxy) close() {
	_ = p.ln.Close()
	p.cut()
}
