// Package natsnotify receives config DB change events from NATS (where
// MinIO publishes its bucket notifications) and hands them to a notify.Sink.
//
// By default it is a core NATS subscription: every instance gets every
// message, and nothing is replayed after an outage, so every (re)connect
// asks the sink for a pull. With Options.Stream set it reads the JetStream
// stream through an ordered consumer that delivers only messages published
// after it started.
package natsnotify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/backoff"
	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/rawio"
)

// SourceName is the source label of this package's hints, metrics and logs.
const SourceName = "nats"

// Defaults applied to zero Options fields.
const (
	DefaultConnectRetryWait    = time.Second
	DefaultMaxConnectRetryWait = 30 * time.Second
	DefaultReconnectWait       = 2 * time.Second
	// DefaultPingInterval and DefaultMaxPingsOut bound how long a dead
	// connection whose close never arrived (a half-open TCP connection
	// after a network cut: the server dropped us, the FIN was lost) looks
	// connected: the client gives up after MaxPingsOut+1 ticks without a
	// PONG, 10 to 15 s, then reconnects (and the reconnect pulls).
	DefaultPingInterval = 5 * time.Second
	DefaultMaxPingsOut  = 2
)

// ErrInvalidOptions is returned by Run when Options cannot work at all.
var ErrInvalidOptions = errors.New("invalid nats options")

// TLSOptions are the files for a TLS connection to NATS. Setting CAFile
// (or using a tls:// URL) turns TLS on; CertFile and KeyFile add a client
// certificate.
type TLSOptions struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Options configure the NATS source (advanced.config_sync_nats).
type Options struct {
	// URL of the NATS server(s), comma-separated (nats://host:4222).
	URL string
	// Subject the bucket events are published on. Required for core NATS;
	// with Stream it filters the stream (empty = every subject of it).
	Subject string
	// Stream, when set, switches to a JetStream ordered consumer on this
	// stream that delivers only new messages. The stream must exist.
	Stream string

	// Authentication: at most one of CredentialsFile, Token, User+Password.
	CredentialsFile string
	Token           string
	User            string
	Password        string

	// TLS files.
	TLS TLSOptions

	// ConnectRetryWait is the wait after the first failed connection
	// attempt; it doubles after each failure up to MaxConnectRetryWait.
	ConnectRetryWait    time.Duration
	MaxConnectRetryWait time.Duration
	// ReconnectWait is the pause between reconnection attempts of an
	// established connection (the NATS client retries forever).
	ReconnectWait time.Duration
	// PingInterval is the period of the client's PINGs; a connection
	// with more than MaxPingsOut of them unanswered is dropped as stale
	// and reconnected. Defaults: DefaultPingInterval, DefaultMaxPingsOut.
	PingInterval time.Duration
	MaxPingsOut  int

	// Now is the clock for status times; time.Now when nil.
	Now func() time.Time
}

func (o Options) validate() error {
	var errs []error
	if strings.TrimSpace(o.URL) == "" {
		errs = append(errs, errors.New("url is required"))
	}
	if o.Subject == "" && o.Stream == "" {
		errs = append(errs, errors.New("subject is required without a stream"))
	}
	auth := 0
	for _, set := range []bool{o.CredentialsFile != "", o.Token != "", o.User != "" || o.Password != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		errs = append(errs, errors.New("set only one of credentials, token, user/password"))
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls cert and key files go together"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return nil
}

func (o *Options) applyDefaults() {
	if o.ConnectRetryWait <= 0 {
		o.ConnectRetryWait = DefaultConnectRetryWait
	}
	if o.MaxConnectRetryWait <= 0 {
		o.MaxConnectRetryWait = DefaultMaxConnectRetryWait
	}
	if o.MaxConnectRetryWait < o.ConnectRetryWait {
		o.MaxConnectRetryWait = o.ConnectRetryWait
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = DefaultReconnectWait
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxPingsOut <= 0 {
		o.MaxPingsOut = DefaultMaxPingsOut
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Source is the NATS event source. Create it with New and run it with Run.
type Source struct {
	opts   Options
	logger zerolog.Logger
	disp   *notify.Dispatcher
}

// New returns a NATS source delivering hints that match filter to sink.
// metrics may be nil. Nothing connects until Run.
func New(opts Options, filter notify.Filter, sink notify.Sink, logger zerolog.Logger, metrics *notify.Metrics) *Source {
	opts.applyDefaults()
	logger = logger.With().Str("component", "config-sync").Str("source", SourceName).Logger()
	return &Source{
		opts:   opts,
		logger: logger,
		disp:   notify.NewDispatcher(SourceName, filter, sink, logger, metrics, opts.Now),
	}
}

// Status returns the source's connection state and message counts.
func (s *Source) Status() notify.SourceStatus {
	return s.disp.Status()
}

// Run connects and delivers events until ctx is done, then closes the
// connection and returns nil. A server that cannot be reached (at start or
// later) never makes Run fail: the first connection is retried with a
// capped backoff, and an established one reconnects forever. Every
// successful connect and every reconnect calls Sink.Resync. Run returns an
// error only for Options that cannot work (ErrInvalidOptions). No Sink call
// happens after Run returns. Call Run once per Source.
func (s *Source) Run(ctx context.Context) error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	defer s.disp.Stop()
	s.logger.Info().Str("url", redactURL(s.opts.URL)).Str("subject", s.opts.Subject).
		Str("stream", s.opts.Stream).Msg("nats event source starting")
	for failures := 0; ; failures++ {
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := backoff.Policy{First: s.opts.ConnectRetryWait, Max: s.opts.MaxConnectRetryWait}.Delay(failures + 1)
		s.disp.Failed(err, failures, wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

// session connects, subscribes and serves until ctx is done. It returns an
// error when connecting or subscribing failed.
func (s *Source) session(ctx context.Context) error {
	closed := make(chan struct{})
	nc, err := nats.Connect(s.opts.URL, s.natsOptions(closed)...)
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer func() {
		nc.Close()
		// The closed callback is the last one the client runs; waiting for
		// it means no connection callback is still in flight.
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			s.logger.Warn().Msg("nats connection close not confirmed")
		}
	}()

	stop, err := s.subscribe(ctx, nc)
	if err != nil {
		return err
	}
	defer stop()

	s.disp.SetConnected(nc.IsConnected())
	s.logger.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats event source connected")
	// Subscribed first, then pull: nothing published from now on is missed,
	// and whatever happened while not connected is picked up by the pull.
	s.disp.Resync(notify.ReasonConnected)

	<-ctx.Done()
	return nil
}

// subscribe starts the core subscription or the JetStream ordered consumer
// and returns the function that stops it and waits for it.
func (s *Source) subscribe(ctx context.Context, nc *nats.Conn) (func(), error) {
	if s.opts.Stream == "" {
		sub, err := nc.Subscribe(s.opts.Subject, func(m *nats.Msg) {
			s.disp.Dispatch(m.Data)
		})
		if err != nil {
			return nil, fmt.Errorf("subscribe %q: %w", s.opts.Subject, err)
		}
		// The server has the subscription once the flush returns.
		if err := nc.Flush(); err != nil {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("subscribe %q: %w", s.opts.Subject, err)
		}
		return func() { _ = sub.Unsubscribe() }, nil
	}

	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if s.opts.Subject != "" {
		cfg.FilterSubjects = []string{s.opts.Subject}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(cctx, s.opts.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("ordered consumer on stream %q: %w", s.opts.Stream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		s.disp.Dispatch(m.Data())
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.logger.Debug().Err(err).Msg("jetstream consumer")
	}))
	if err != nil {
		return nil, fmt.Errorf("consume stream %q: %w", s.opts.Stream, err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
	}, nil
}

func (s *Source) natsOptions(closed chan struct{}) []nats.Option {
	o := []nats.Option{
		nats.Name("dgp-config-sync"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(s.opts.ReconnectWait),
		nats.PingInterval(s.opts.PingInterval),
		nats.MaxPingsOutstanding(s.opts.MaxPingsOut),
		nats.Timeout(5 * time.Second),
		// Reads and writes that do not wake the runtime's monitor: see
		// internal/rawio (nats.Timeout does not apply to a custom dialer).
		nats.SetCustomDialer(rawio.Dialer{Timeout: 5 * time.Second}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			s.disp.SetConnected(false)
			if err != nil {
				s.disp.SetError(err)
				s.logger.Warn().Err(err).Msg("nats event source disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.disp.SetConnected(true)
			s.logger.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats event source reconnected")
			// Core NATS does not replay what was published while we were
			// away: pull now.
			s.disp.Resync(notify.ReasonReconnected)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.disp.SetError(err)
			s.logger.Warn().Err(err).Msg("nats event source error")
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	switch {
	case s.opts.CredentialsFile != "":
		o = append(o, nats.UserCredentials(s.opts.CredentialsFile))
	case s.opts.Token != "":
		o = append(o, nats.Token(s.opts.Token))
	case s.opts.User != "" || s.opts.Password != "":
		o = append(o, nats.UserInfo(s.opts.User, s.opts.Password))
	}
	if s.opts.TLS.CAFile != "" {
		o = append(o, nats.RootCAs(s.opts.TLS.CAFile))
	}
	if s.opts.TLS.CertFile != "" {
		o = append(o, nats.ClientCert(s.opts.TLS.CertFile, s.opts.TLS.KeyFile))
	}
	return o
}

// redactURL drops user info (user, password or token) from every URL of a
// comma-separated list, for logging.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		u, err := url.Parse(p)
		if err != nil {
			parts[i] = "<unparsable>"
			continue
		}
		u.User = nil
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
