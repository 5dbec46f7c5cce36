package awscfg

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// stillValidMargin is how long before their real expiry credentials stop
// being handed out: a request signed just before expiry must still reach
// the service in time, and clocks drift.
const stillValidMargin = 15 * time.Second

// renewer sits between the provider of a plugin and the aws.CredentialsCache
// the clients use, and renews expiring credentials in the background.
//
// Why not just aws.CredentialsCache with an ExpiryWindow: that cache renews
// inside the first request that finds the credentials in the window, and
// every concurrent request waits for that STS (or IMDS) call. When STS is
// slow or down, sending stops for the length of the SDK's retries and
// timeouts, again and again, although the current credentials are valid for
// minutes. The renewer instead:
//
//   - hands out the current credentials until stillValidMargin before their
//     real expiry, never blocking while they are usable;
//   - starts one renewal in the background once they are within the expiry
//     window, and retries it every poll interval if it fails, keeping the
//     current credentials meanwhile;
//   - blocks a caller only when no usable credentials exist (at start, or
//     after they really expired).
//
// It reports an expiry of at most one poll interval ahead, so the
// aws.CredentialsCache above it comes back every poll interval (the KPL's
// credentialsRefreshDelay) and never holds credentials past the renewer's
// view of them.
type renewer struct {
	inner  aws.CredentialsProvider
	window time.Duration // renew this long before expiry
	poll   time.Duration // credentialsRefreshDelay: re-read and retry pace
	log    *slog.Logger

	mu        sync.Mutex
	cur       aws.Credentials
	lifetime  time.Duration // of cur, from fetch to expiry
	inflight  *flight
	lastFail  time.Time
	failing   bool
	now       func() time.Time
	fetchTime time.Duration // bound of one inner Retrieve
	waits     int           // callers that had to wait for a fetch (tests)
}

type flight struct {
	done  chan struct{}
	creds aws.Credentials
	err   error
}

func newRenewer(inner aws.CredentialsProvider, env Env) *renewer {
	return &renewer{
		inner:     inner,
		window:    env.ExpiryWindow,
		poll:      env.RetryDelay,
		log:       env.Logger,
		now:       time.Now,
		fetchTime: credentialsTimeout,
	}
}

// usableUntil is when c stops being handed out; zero for credentials that
// do not expire.
func usableUntil(c aws.Credentials) time.Time {
	if !c.CanExpire {
		return time.Time{}
	}
	return c.Expires.Add(-stillValidMargin)
}

func usable(c aws.Credentials, now time.Time) bool {
	return c.HasKeys() && (!c.CanExpire || now.Before(usableUntil(c)))
}

func (r *renewer) Retrieve(ctx context.Context) (aws.Credentials, error) {
	now := r.now()
	r.mu.Lock()
	if c := r.cur; usable(c, now) {
		if c.CanExpire && !now.Before(c.Expires.Add(-r.windowLocked())) &&
			r.inflight == nil && now.Sub(r.lastFail) >= r.poll {
			r.startLocked()
		}
		r.mu.Unlock()
		return r.soften(c, now), nil
	}
	f := r.inflight
	if f == nil {
		f = r.startLocked()
	}
	r.waits++
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return aws.Credentials{}, ctx.Err()
	}
	now = r.now()
	r.mu.Lock()
	c := r.cur
	r.mu.Unlock()
	if usable(c, now) {
		return r.soften(c, now), nil
	}
	if f.err != nil {
		return aws.Credentials{}, f.err
	}
	return r.soften(f.creds, now), nil
}

// windowLocked is the expiry window, shortened for credentials that live
// less than it (a 15-minute session with a 20-minute window would be
// renewed on every use).
func (r *renewer) windowLocked() time.Duration {
	if r.lifetime > 0 && r.window >= r.lifetime {
		return r.lifetime / 3
	}
	return r.window
}

// soften caps the expiry the cache above sees at one poll interval ahead.
func (r *renewer) soften(c aws.Credentials, now time.Time) aws.Credentials {
	if !c.CanExpire {
		return c
	}
	if next := now.Add(r.poll); next.Before(usableUntil(c)) {
		c.Expires = next
	} else {
		c.Expires = usableUntil(c)
	}
	return c
}

// blockedCalls is how many Retrieve calls had to wait for a fetch.
func (r *renewer) blockedCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waits
}

func (r *renewer) startLocked() *flight {
	f := &flight{done: make(chan struct{})}
	r.inflight = f
	go r.run(f)
	return f
}

func (r *renewer) run(f *flight) {
	// The provider may itself be a cache (the default chain's is): make it
	// fetch, or it would hand back the credentials being replaced.
	if c, ok := r.inner.(*aws.CredentialsCache); ok {
		c.Invalidate()
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.fetchTime)
	started := r.now()
	creds, err := r.inner.Retrieve(ctx)
	cancel()
	now := r.now()

	r.mu.Lock()
	f.creds, f.err = creds, err
	r.inflight = nil
	prev := r.cur
	wasFailing := r.failing
	if err == nil {
		r.cur = creds
		r.lifetime = creds.Expires.Sub(started)
		r.failing = false
		r.lastFail = time.Time{}
	} else {
		r.failing = true
		r.lastFail = now
	}
	r.mu.Unlock()
	close(f.done)

	if r.log == nil {
		return
	}
	switch {
	case err != nil && !wasFailing && usable(prev, now):
		r.log.Warn("aws credentials: renewal failed; the current credentials stay in use while renewal is retried",
			"usableUntil", usableUntil(prev).UTC().Format(time.RFC3339), "retryEvery", r.poll.String(), "error", errtext.OneLine(err.Error()))
	case err != nil && !wasFailing && prev.HasKeys():
		// Without earlier credentials this is the first fetch, open's
		// check, whose error says it in one line.
		r.log.Error("aws credentials: cannot get credentials", "error", errtext.OneLine(err.Error()))
	case err == nil && wasFailing:
		r.log.Info("aws credentials: renewed after failures")
	}
}

// refresher reads the credentials every interval, so that renewals start in
// time even while the sink sends nothing.
type refresher struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startRefresher(p aws.CredentialsProvider, every time.Duration) *refresher {
	r := &refresher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
			// Failures are logged by the renewer; a context bounds a
			// blocking fetch (no usable credentials left).
			ctx, cancel := context.WithTimeout(context.Background(), credentialsTimeout)
			_, _ = p.Retrieve(ctx)
			cancel()
		}
	}()
	return r
}

func (r *refresher) close() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}
