package notifysetup

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	key      = ".deltaglider/config.db"
	natsARN  = "arn:minio:sqs::PRIMARY:nats"
	topicARN = "arn:aws:sns:eu-west-1:123456789012:dgp-sync"
	queueARN = "arn:aws:sqs:eu-west-1:123456789012:other-queue"
)

func prefixFilter(rules ...string) *types.NotificationConfigurationFilter {
	f := &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{}}
	for i := 0; i+1 < len(rules); i += 2 {
		f.Key.FilterRules = append(f.Key.FilterRules, types.FilterRule{Name: types.FilterRuleName(rules[i]), Value: aws.String(rules[i+1])})
	}
	return f
}

func queue(id, arn string, filter *types.NotificationConfigurationFilter, events ...types.Event) types.QueueConfiguration {
	q := types.QueueConfiguration{QueueArn: aws.String(arn), Events: events, Filter: filter}
	if id != "" {
		q.Id = aws.String(id)
	}
	return q
}

func TestTargets(t *testing.T) {
	cases := []struct {
		name string
		f    func(string) (Target, error)
		arn  string
		kind Kind // 0: invalid
	}{
		{"nats", NATSTarget, natsARN, Queue},
		{"nats other id", NATSTarget, "arn:minio:sqs::_1:nats", Queue},
		{"nats webhook", NATSTarget, "arn:minio:sqs::PRIMARY:webhook", 0},
		{"nats no id", NATSTarget, "arn:minio:sqs:::nats", 0},
		{"nats aws sqs", NATSTarget, queueARN, 0},
		{"sns", SNSTopicTarget, topicARN, Topic},
		{"sns china", SNSTopicTarget, "arn:aws-cn:sns:cn-north-1:123456789012:t", Topic},
		{"sns given sqs", SNSTopicTarget, queueARN, 0},
		{"sns no name", SNSTopicTarget, "arn:aws:sns:eu-west-1:123456789012:", 0},
		{"sqs", SQSQueueTarget, queueARN, Queue},
		{"sqs minio webhook", SQSQueueTarget, "arn:minio:sqs::BRIDGE:webhook", Queue},
		{"sqs given sns", SQSQueueTarget, topicARN, 0},
		{"sqs url", SQSQueueTarget, "https://sqs.eu-west-1.amazonaws.com/123456789012/q", 0},
		{"sqs space", SQSQueueTarget, "arn:aws:sqs:eu-west-1:1:q q", 0},
		{"empty", SQSQueueTarget, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg, err := c.f(c.arn)
			if c.kind == 0 {
				if !errors.Is(err, ErrInvalidTarget) {
					t.Fatalf("err = %v, want ErrInvalidTarget", err)
				}
				return
			}
			if err != nil || tg.Kind != c.kind || tg.ARN != c.arn {
				t.Fatalf("got %+v, %v", tg, err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	nats := Rule{Target: Target{Queue, natsARN}, Key: key}
	topic := Rule{Target: Target{Topic, topicARN}, Key: key}
	ourID := nats.id()
	cases := []struct {
		name        string
		cur         *types.NotificationConfiguration
		rule        Rule
		changed     bool
		id          string // want Result.ID ("" = the rule's id)
		overlapping []string
	}{
		{name: "nil document", cur: nil, rule: nats, changed: true},
		{name: "empty document", cur: &types.NotificationConfiguration{}, rule: nats, changed: true},
		{name: "topic", cur: &types.NotificationConfiguration{}, rule: topic, changed: true},
		{name: "same target other prefix kept", rule: nats, changed: true, cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("other", natsARN, prefixFilter("prefix", "other/"), "s3:ObjectCreated:*")},
		}},
		{name: "already there", rule: nats, id: "mine", cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("mine", natsARN, prefixFilter("prefix", key), "s3:ObjectCreated:*")},
		}},
		{name: "covered by prefix and suffix (AWS names)", rule: nats, id: "wide", cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("wide", natsARN, prefixFilter("Prefix", ".deltaglider/", "Suffix", "config.db"), "s3:ObjectCreated:Put", "s3:ObjectRemoved:*")},
		}},
		{name: "covered by a rule without filter nor id", rule: nats, id: "", cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("", natsARN, nil, "s3:ObjectCreated:*")},
		}},
		{name: "same target removals only", rule: nats, changed: true, cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("rm", natsARN, prefixFilter("prefix", ".deltaglider/"), "s3:ObjectRemoved:*")},
		}},
		{name: "same target copies only overlap", rule: nats, changed: true, overlapping: []string{"copy (" + natsARN + ")"}, cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("copy", natsARN, prefixFilter("prefix", ".deltaglider/"), "s3:ObjectCreated:Copy")},
		}},
		{name: "suffix excludes the key", rule: nats, changed: true, cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("img", natsARN, prefixFilter("suffix", ".jpg"), "s3:ObjectCreated:*")},
		}},
		{name: "other target covering the key overlaps", rule: nats, changed: true, overlapping: []string{"audit (" + queueARN + ")"}, cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue("audit", queueARN, nil, "s3:ObjectCreated:*")},
		}},
		{name: "same arn as topic does not cover a queue", rule: nats, changed: true, overlapping: []string{"t (" + natsARN + ")"}, cur: &types.NotificationConfiguration{
			TopicConfigurations: []types.TopicConfiguration{{Id: aws.String("t"), TopicArn: aws.String(natsARN), Events: []types.Event{"s3:ObjectCreated:*"}}},
		}},
		{name: "our id taken by a different rule", rule: nats, changed: true, id: ourID + "-2", cur: &types.NotificationConfiguration{
			QueueConfigurations: []types.QueueConfiguration{queue(ourID, natsARN, prefixFilter("prefix", "elsewhere/"), "s3:ObjectCreated:*")},
		}},
		{name: "everything else kept", rule: topic, changed: true, overlapping: []string{"fn (arn:aws:lambda:eu-west-1:123456789012:function:f)"}, cur: &types.NotificationConfiguration{
			EventBridgeConfiguration: &types.EventBridgeConfiguration{},
			LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{
				Id: aws.String("fn"), LambdaFunctionArn: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:f"), Events: []types.Event{"s3:ObjectCreated:*"},
			}},
			QueueConfigurations: []types.QueueConfiguration{queue("q", queueARN, prefixFilter("prefix", "logs/"), "s3:ObjectCreated:*")},
			TopicConfigurations: []types.TopicConfiguration{{Id: aws.String("t"), TopicArn: aws.String(topicARN), Events: []types.Event{"s3:ObjectRemoved:*"}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := clone(c.cur)
			next, res, err := Merge(c.cur, c.rule)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.cur, before) {
				t.Fatal("Merge modified its input")
			}
			wantID := c.id
			if wantID == "" && c.changed {
				wantID = c.rule.id()
			}
			if res.Changed != c.changed || res.ID != wantID || !slices.Equal(res.Overlapping, c.overlapping) {
				t.Fatalf("result %+v, want changed %v id %q overlapping %v", res, c.changed, wantID, c.overlapping)
			}
			n := len(entries(orEmpty(c.cur)))
			if res.Kept != n {
				t.Errorf("kept %d, want %d", res.Kept, n)
			}
			if !c.changed {
				if !reflect.DeepEqual(next, orEmpty(c.cur)) {
					t.Fatalf("unchanged result differs from input: %+v", next)
				}
				return
			}
			// Every rule that was there is still there, unchanged, in order.
			old := orEmpty(c.cur)
			if !reflect.DeepEqual(next.EventBridgeConfiguration, old.EventBridgeConfiguration) ||
				!reflect.DeepEqual(next.LambdaFunctionConfigurations, old.LambdaFunctionConfigurations) {
				t.Fatal("eventbridge or lambda configuration not kept")
			}
			qs, ts := next.QueueConfigurations, next.TopicConfigurations
			switch c.rule.Target.Kind {
			case Queue:
				if !reflect.DeepEqual(ts, old.TopicConfigurations) || len(qs) != len(old.QueueConfigurations)+1 ||
					!reflect.DeepEqual(qs[:len(qs)-1], old.QueueConfigurations) && len(old.QueueConfigurations) > 0 {
					t.Fatalf("rules not kept: %+v", next)
				}
				added := qs[len(qs)-1]
				checkAdded(t, added.Id, added.QueueArn, added.Events, added.Filter, c.rule, wantID)
			case Topic:
				if !reflect.DeepEqual(qs, old.QueueConfigurations) || len(ts) != len(old.TopicConfigurations)+1 ||
					!reflect.DeepEqual(ts[:len(ts)-1], old.TopicConfigurations) && len(old.TopicConfigurations) > 0 {
					t.Fatalf("rules not kept: %+v", next)
				}
				added := ts[len(ts)-1]
				checkAdded(t, added.Id, added.TopicArn, added.Events, added.Filter, c.rule, wantID)
			}
			// Idempotent: merging again changes nothing.
			again, res2, err := Merge(next, c.rule)
			if err != nil || res2.Changed || res2.ID != wantID || again != next {
				t.Fatalf("second merge: %+v %v", res2, err)
			}
		})
	}
}

func checkAdded(t *testing.T, id, arn *string, events []types.Event, f *types.NotificationConfigurationFilter, r Rule, wantID string) {
	t.Helper()
	if aws.ToString(id) != wantID || aws.ToString(arn) != r.Target.ARN || !slices.Equal(events, []types.Event{Event}) {
		t.Fatalf("added rule id %q arn %q events %v", aws.ToString(id), aws.ToString(arn), events)
	}
	if f == nil || f.Key == nil || len(f.Key.FilterRules) != 1 || f.Key.FilterRules[0].Name != types.FilterRuleNamePrefix ||
		aws.ToString(f.Key.FilterRules[0].Value) != r.Key {
		t.Fatalf("added rule filter %+v, want prefix %q", f, r.Key)
	}
	if !strings.HasPrefix(wantID, IDPrefix) {
		t.Fatalf("id %q lacks the prefix", wantID)
	}
}

// TestMergeDoesNotAlias makes sure appending dgp's rule never writes into
// spare capacity of the caller's slice.
func TestMergeDoesNotAlias(t *testing.T) {
	qs := make([]types.QueueConfiguration, 1, 4)
	qs[0] = queue("a", queueARN, prefixFilter("prefix", "x/"), "s3:ObjectCreated:*")
	cur := &types.NotificationConfiguration{QueueConfigurations: qs}
	next1, _, err := Merge(cur, Rule{Target: Target{Queue, natsARN}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	next2, _, err := Merge(cur, Rule{Target: Target{Queue, "arn:minio:sqs::OTHER:nats"}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(next1.QueueConfigurations[1].QueueArn) != natsARN || aws.ToString(next2.QueueConfigurations[1].QueueArn) != "arn:minio:sqs::OTHER:nats" {
		t.Fatal("merges share a backing array")
	}
}

func TestMergeRejectsBadRules(t *testing.T) {
	for _, r := range []Rule{
		{Key: key},
		{Target: Target{Queue, ""}, Key: key},
		{Target: Target{Queue, natsARN}},
	} {
		if _, _, err := Merge(nil, r); err == nil {
			t.Errorf("Merge accepted %+v", r)
		}
	}
}

func TestRuleIDsDifferPerTarget(t *testing.T) {
	a := Rule{Target: Target{Queue, natsARN}, Key: key}.id()
	b := Rule{Target: Target{Topic, topicARN}, Key: key}.id()
	c := Rule{Target: Target{Queue, natsARN}, Key: "other.db"}.id()
	if a == b || a == c || len(a) != len(IDPrefix)+8 {
		t.Fatalf("ids %q %q %q", a, b, c)
	}
}

func TestSummary(t *testing.T) {
	r := Rule{Target: Target{Queue, natsARN}, Key: key}
	if s := (Result{Changed: true, ID: "x", Kept: 2}).Summary("b", r); !strings.Contains(s, "added rule \"x\"") || !strings.Contains(s, "kept the 2") {
		t.Error(s)
	}
	if s := (Result{ID: "y"}).Summary("b", r); !strings.Contains(s, "nothing changed") || !strings.Contains(s, `rule "y"`) {
		t.Error(s)
	}
}

func orEmpty(c *types.NotificationConfiguration) *types.NotificationConfiguration {
	if c == nil {
		return &types.NotificationConfiguration{}
	}
	return c
}

func clone(c *types.NotificationConfiguration) *types.NotificationConfiguration {
	if c == nil {
		return nil
	}
	out := *c
	out.QueueConfigurations = slices.Clone(c.QueueConfigurations)
	out.TopicConfigurations = slices.Clone(c.TopicConfigurations)
	out.LambdaFunctionConfigurations = slices.Clone(c.LambdaFunctionConfigurations)
	return &out
}
