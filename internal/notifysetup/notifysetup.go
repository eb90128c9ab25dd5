// Package notifysetup adds the bucket notification that config sync needs
// (object-created events of the config object, to a NATS target of MinIO,
// an SNS topic or an SQS queue) to the sync bucket, keeping every rule that
// is already there.
//
// A bucket has one notification document: writing only dgp's rule would
// silently delete everyone else's. Ensure therefore reads the document,
// merges dgp's rule into it and writes it back, and writes nothing when a
// rule that already delivers the config object's events to the target is
// there (running it twice changes nothing).
package notifysetup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Event is the event type of the rule dgp adds: every object creation.
const Event = "s3:ObjectCreated:*"

// IDPrefix starts the id of every rule this package adds.
const IDPrefix = "dgp-config-sync-"

// ErrInvalidTarget is returned for an ARN that does not name the kind of
// destination it was given as.
var ErrInvalidTarget = errors.New("invalid notification target")

// Kind is where a destination goes in the notification document.
type Kind int

// Destination kinds.
const (
	// Queue destinations go in QueueConfigurations: SQS queues, and MinIO
	// targets (arn:minio:sqs::<ID>:nats, :webhook, ...).
	Queue Kind = iota + 1
	// Topic destinations go in TopicConfigurations: SNS topics.
	Topic
)

// String names the kind as the notification document does.
func (k Kind) String() string {
	switch k {
	case Queue:
		return "queue"
	case Topic:
		return "topic"
	}
	return "unknown"
}

// Target is the destination of the rule.
type Target struct {
	Kind Kind
	ARN  string
}

// NATSTarget is a MinIO NATS notification target: arn:minio:sqs::<ID>:nats
// (MinIO lists its targets' ARNs at startup and in `mc admin info --json`).
func NATSTarget(arn string) (Target, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "minio" || parts[2] != "sqs" || parts[4] == "" || parts[5] != "nats" {
		return Target{}, fmt.Errorf("%w: %q is not a MinIO NATS target ARN (arn:minio:sqs::<ID>:nats)", ErrInvalidTarget, arn)
	}
	return Target{Kind: Queue, ARN: arn}, nil
}

// SNSTopicTarget is an SNS topic: arn:<partition>:sns:<region>:<account>:<name>.
func SNSTopicTarget(arn string) (Target, error) {
	if !awsARN(arn, "sns") {
		return Target{}, fmt.Errorf("%w: %q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)", ErrInvalidTarget, arn)
	}
	return Target{Kind: Topic, ARN: arn}, nil
}

// SQSQueueTarget is an SQS queue, arn:<partition>:sqs:<region>:<account>:<name>,
// or any other queue-style target of an S3-compatible service
// (MinIO's arn:minio:sqs::<ID>:<type>).
func SQSQueueTarget(arn string) (Target, error) {
	if !awsARN(arn, "sqs") {
		return Target{}, fmt.Errorf("%w: %q is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)", ErrInvalidTarget, arn)
	}
	return Target{Kind: Queue, ARN: arn}, nil
}

// awsARN reports whether arn has the shape arn:<partition>:<service>:<region>:<account>:<resource>
// with a partition and a resource (region and account may be empty, as in MinIO's).
func awsARN(arn, service string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] == service && parts[5] != "" &&
		!strings.ContainsAny(arn, " \t\r\n")
}

// Rule is the notification config sync needs: object-created events of
// exactly the object Key (a prefix filter of the whole key) to Target.
type Rule struct {
	Target Target
	Key    string
}

func (r Rule) validate() error {
	if r.Target.Kind != Queue && r.Target.Kind != Topic {
		return fmt.Errorf("%w: no destination", ErrInvalidTarget)
	}
	if r.Target.ARN == "" {
		return fmt.Errorf("%w: empty ARN", ErrInvalidTarget)
	}
	if r.Key == "" {
		return errors.New("notification rule: empty config object key")
	}
	return nil
}

// id is the deterministic id of the rule: one per target and key, so that
// rules for several targets (NATS and SNS) can live side by side.
func (r Rule) id() string {
	sum := sha256.Sum256([]byte(r.Target.ARN + "\x00" + r.Key))
	return IDPrefix + hex.EncodeToString(sum[:4])
}

// Result says what Merge (or Ensure) found and did.
type Result struct {
	// Changed is true when the rule was added (Ensure: written).
	Changed bool
	// ID is the id of the rule added, or of the existing rule that already
	// delivers the config object's events to the target.
	ID string
	// Kept is the number of rules that were there before (all kept).
	Kept int
	// Overlapping lists existing rules to other destinations that also
	// match object creations of the config object. AWS S3 refuses
	// overlapping rules ("Configurations overlap"); MinIO accepts them.
	Overlapping []string
}

// Summary says in one line what happened to bucket, for people.
func (res Result) Summary(bucket string, r Rule) string {
	if !res.Changed {
		rule := "an unnamed rule"
		if res.ID != "" {
			rule = fmt.Sprintf("rule %q", res.ID)
		}
		return fmt.Sprintf("bucket %s already sends object-created events of %q to %s %s (%s): nothing changed",
			bucket, r.Key, r.Target.Kind, r.Target.ARN, rule)
	}
	return fmt.Sprintf("bucket %s: added rule %q: %s events of %q (prefix filter) to %s %s; kept the %d rule(s) already there",
		bucket, res.ID, Event, r.Key, r.Target.Kind, r.Target.ARN, res.Kept)
}

// Merge returns cur with rule r added, or cur itself (Changed false) when a
// rule of cur already delivers object creations of r.Key to r.Target.
// Every rule of cur is kept as it is; cur is not modified.
func Merge(cur *types.NotificationConfiguration, r Rule) (*types.NotificationConfiguration, Result, error) {
	if err := r.validate(); err != nil {
		return nil, Result{}, err
	}
	if cur == nil {
		cur = &types.NotificationConfiguration{}
	}
	all := entries(cur)
	res := Result{Kept: len(all)}
	var ids []string
	for _, e := range all {
		if e.id != "" {
			ids = append(ids, e.id)
		}
		if !e.matches(r.Key) {
			continue
		}
		if e.kind == r.Target.Kind && e.arn == r.Target.ARN && createsCovered(e.events) {
			return cur, Result{ID: e.id, Kept: len(all)}, nil
		}
		if anyCreated(e.events) {
			res.Overlapping = append(res.Overlapping, e.label())
		}
	}
	res.ID = freeID(r.id(), ids)
	res.Changed = true
	next := *cur
	filter := &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{
		FilterRules: []types.FilterRule{{Name: types.FilterRuleNamePrefix, Value: aws.String(r.Key)}},
	}}
	events := []types.Event{Event}
	switch r.Target.Kind {
	case Queue:
		next.QueueConfigurations = append(slices.Clip(cur.QueueConfigurations), types.QueueConfiguration{
			Id: aws.String(res.ID), QueueArn: aws.String(r.Target.ARN), Events: events, Filter: filter,
		})
	case Topic:
		next.TopicConfigurations = append(slices.Clip(cur.TopicConfigurations), types.TopicConfiguration{
			Id: aws.String(res.ID), TopicArn: aws.String(r.Target.ARN), Events: events, Filter: filter,
		})
	}
	return &next, res, nil
}

// freeID returns want, or want-2, want-3, ... when taken.
func freeID(want string, taken []string) string {
	id := want
	for n := 2; slices.Contains(taken, id); n++ {
		id = fmt.Sprintf("%s-%d", want, n)
	}
	return id
}

// entry is one rule of the document, whatever its destination kind.
type entry struct {
	kind   Kind // 0 for Lambda functions
	id     string
	arn    string
	events []types.Event
	filter *types.NotificationConfigurationFilter
}

func (e entry) label() string {
	if e.id != "" {
		return fmt.Sprintf("%s (%s)", e.id, e.arn)
	}
	return e.arn
}

func entries(c *types.NotificationConfiguration) []entry {
	var out []entry
	for _, q := range c.QueueConfigurations {
		out = append(out, entry{Queue, aws.ToString(q.Id), aws.ToString(q.QueueArn), q.Events, q.Filter})
	}
	for _, t := range c.TopicConfigurations {
		out = append(out, entry{Topic, aws.ToString(t.Id), aws.ToString(t.TopicArn), t.Events, t.Filter})
	}
	for _, l := range c.LambdaFunctionConfigurations {
		out = append(out, entry{0, aws.ToString(l.Id), aws.ToString(l.LambdaFunctionArn), l.Events, l.Filter})
	}
	return out
}

// matches reports whether the rule's key filter lets key through.
func (e entry) matches(key string) bool {
	if e.filter == nil || e.filter.Key == nil {
		return true
	}
	for _, fr := range e.filter.Key.FilterRules {
		v := aws.ToString(fr.Value)
		switch strings.ToLower(string(fr.Name)) {
		case "prefix":
			if !strings.HasPrefix(key, v) {
				return false
			}
		case "suffix":
			if !strings.HasSuffix(key, v) {
				return false
			}
		}
	}
	return true
}

// createsCovered reports whether events include the creations dgp makes
// (it writes the config object with PutObject).
func createsCovered(events []types.Event) bool {
	for _, ev := range events {
		switch ev {
		case "s3:ObjectCreated:*", "s3:ObjectCreated:Put":
			return true
		}
	}
	return false
}

func anyCreated(events []types.Event) bool {
	for _, ev := range events {
		if strings.HasPrefix(string(ev), "s3:ObjectCreated:") {
			return true
		}
	}
	return false
}

// Client is the part of the S3 client Ensure uses (*s3.Client has it).
type Client interface {
	GetBucketNotificationConfiguration(ctx context.Context, in *s3.GetBucketNotificationConfigurationInput, optFns ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error)
	PutBucketNotificationConfiguration(ctx context.Context, in *s3.PutBucketNotificationConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error)
}

var _ Client = (*s3.Client)(nil)

// Ensure makes bucket's notification document hold rule r: it reads the
// document, merges r into it (Merge) and writes it back when it changed.
// With dryRun it writes nothing and reports what it would have done.
func Ensure(ctx context.Context, c Client, bucket string, r Rule, dryRun bool) (Result, error) {
	if err := r.validate(); err != nil {
		return Result{}, err
	}
	cur, err := Get(ctx, c, bucket)
	if err != nil {
		return Result{}, err
	}
	next, res, err := Merge(cur, r)
	if err != nil {
		return Result{}, err
	}
	if !res.Changed || dryRun {
		return res, nil
	}
	_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket:                    aws.String(bucket),
		NotificationConfiguration: next,
	})
	if err != nil {
		if len(res.Overlapping) > 0 {
			return Result{}, fmt.Errorf("write notification configuration of bucket %s: %w (note: existing rule(s) %s also match creations of the config object, and AWS S3 refuses overlapping rules)",
				bucket, err, strings.Join(res.Overlapping, ", "))
		}
		return Result{}, fmt.Errorf("write notification configuration of bucket %s: %w", bucket, err)
	}
	return res, nil
}

// Get returns bucket's notification document.
func Get(ctx context.Context, c Client, bucket string) (*types.NotificationConfiguration, error) {
	out, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, fmt.Errorf("read notification configuration of bucket %s: %w", bucket, err)
	}
	return &types.NotificationConfiguration{
		EventBridgeConfiguration:     out.EventBridgeConfiguration,
		LambdaFunctionConfigurations: out.LambdaFunctionConfigurations,
		QueueConfigurations:          out.QueueConfigurations,
		TopicConfigurations:          out.TopicConfigurations,
	}, nil
}
