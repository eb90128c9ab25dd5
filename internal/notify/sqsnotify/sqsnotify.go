// Package sqsnotify receives config DB change events from an SQS queue (one
// queue per instance, fed by S3 directly or through SNS) and hands them to a
// notify.Sink.
//
// It long-polls the queue, hands every message to the parser, and deletes
// every message it handled, irrelevant ones and the s3:TestEvent included,
// so nothing is redelivered forever. Receive errors back off (capped) and,
// once the queue answers again, the sink is asked for a pull.
package sqsnotify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/backoff"
	"github.com/dgp-proxy/dgp/internal/notify"
)

// SourceName is the source label of this package's hints, metrics and logs.
const SourceName = "sqs"

// Defaults applied to zero Options fields.
const (
	// DefaultWaitTime is the long-poll wait, the most SQS allows.
	DefaultWaitTime    = 20 * time.Second
	DefaultMaxMessages = 10
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = time.Minute
)

// deleteTimeout bounds the delete of handled messages, which runs even
// while the source is stopping so handled messages are not redelivered.
const deleteTimeout = 10 * time.Second

// ErrInvalidOptions is returned by Run when Options cannot work at all.
var ErrInvalidOptions = errors.New("invalid sqs options")

// SQSAPI is the part of the SQS client the source uses; *sqs.Client
// implements it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// Options configure the SQS source (advanced.config_sync_sqs).
type Options struct {
	// QueueURL is this instance's queue.
	QueueURL string
	// WaitTime is the long-poll wait (whole seconds, at most 20 s).
	// Default 20 s. The HTTP client's timeout must be longer.
	WaitTime time.Duration
	// MaxMessages per receive, 1 to 10. Default 10.
	MaxMessages int32
	// MinBackoff is the wait after the first failed receive; it doubles
	// after each further failure up to MaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Now is the clock for status times; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx is done (then returns ctx.Err()); a real
	// timer when nil. Tests inject one that does not wait.
	Sleep backoff.Sleeper
}

func (o *Options) applyDefaults() {
	if o.WaitTime <= 0 {
		o.WaitTime = DefaultWaitTime
	}
	o.WaitTime = min(o.WaitTime, 20*time.Second)
	if o.MaxMessages <= 0 || o.MaxMessages > 10 {
		o.MaxMessages = DefaultMaxMessages
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = backoff.Sleep
	}
}

// Source is the SQS event source. Create it with New and run it with Run.
type Source struct {
	client SQSAPI
	opts   Options
	logger zerolog.Logger
	disp   *notify.Dispatcher
}

// New returns an SQS source reading opts.QueueURL through client and
// delivering hints that match filter to sink. metrics may be nil.
func New(client SQSAPI, opts Options, filter notify.Filter, sink notify.Sink, logger zerolog.Logger, metrics *notify.Metrics) *Source {
	opts.applyDefaults()
	logger = logger.With().Str("component", "config-sync").Str("source", SourceName).Logger()
	return &Source{
		client: client,
		opts:   opts,
		logger: logger,
		disp:   notify.NewDispatcher(SourceName, filter, sink, logger, metrics, opts.Now),
	}
}

// Status returns the source's reachability and message counts.
func (s *Source) Status() notify.SourceStatus {
	return s.disp.Status()
}

// Run polls the queue until ctx is done, then returns nil. An unreachable
// queue never makes Run fail: receives are retried with a capped backoff,
// and the first successful receive after errors calls Sink.Resync. The
// first receive after start or after an error does not wait, so the status
// is known at once. Run returns an error only for Options that cannot work
// (ErrInvalidOptions). No Sink call happens after Run returns. Call Run
// once per Source.
func (s *Source) Run(ctx context.Context) error {
	if s.opts.QueueURL == "" {
		return fmt.Errorf("%w: queue_url is required", ErrInvalidOptions)
	}
	if s.client == nil {
		return fmt.Errorf("%w: no sqs client", ErrInvalidOptions)
	}
	defer s.disp.Stop()
	s.logger.Info().Str("queue_url", s.opts.QueueURL).Msg("sqs event source starting")

	failures := 0
	connected := false
	for ctx.Err() == nil {
		err := s.Poll(ctx, failures > 0 || !connected)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			connected = false
			wait := backoff.Policy{First: s.opts.MinBackoff, Max: s.opts.MaxBackoff}.Delay(failures + 1)
			s.disp.Failed(err, failures, wait)
			failures++
			if s.opts.Sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		if !connected {
			connected = true
			s.disp.SetConnected(true)
			s.logger.Info().Msg("sqs queue reachable")
		}
		if failures > 0 {
			failures = 0
			// Messages may have piled up or expired while we could not
			// reach the queue: pull now rather than trust what is left.
			s.disp.Resync(notify.ReasonReachable)
		}
	}
	return nil
}

// Poll receives one batch (long-polling unless noWait), dispatches every
// message and deletes them all. It returns an error when the queue could
// not be read or the batch not deleted. Run calls it in a loop; tests may
// call it directly.
func (s *Source) Poll(ctx context.Context, noWait bool) error {
	wait := int32(s.opts.WaitTime / time.Second)
	if noWait {
		wait = 0
	}
	out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(s.opts.QueueURL),
		MaxNumberOfMessages: s.opts.MaxMessages,
		WaitTimeSeconds:     wait,
	})
	if err != nil {
		return fmt.Errorf("receive from sqs: %w", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, 0, len(out.Messages))
	for i, m := range out.Messages {
		s.disp.Dispatch([]byte(aws.ToString(m.Body)))
		if m.ReceiptHandle != nil {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{
				Id:            aws.String(strconv.Itoa(i)),
				ReceiptHandle: m.ReceiptHandle,
			})
		}
	}
	return s.deleteBatch(ctx, entries)
}

// deleteBatch deletes handled messages, even when ctx was canceled
// meanwhile: a handled message left in the queue would come back.
func (s *Source) deleteBatch(ctx context.Context, entries []types.DeleteMessageBatchRequestEntry) error {
	if len(entries) == 0 {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	out, err := s.client.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(s.opts.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		return fmt.Errorf("delete sqs messages: %w", err)
	}
	for _, f := range out.Failed {
		// Redelivered after the visibility timeout and handled again:
		// harmless, hints are idempotent.
		s.logger.Warn().Str("code", aws.ToString(f.Code)).Str("error", aws.ToString(f.Message)).
			Msg("sqs message not deleted")
	}
	return nil
}
