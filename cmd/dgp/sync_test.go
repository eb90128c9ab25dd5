package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/notifysetup"
)

func TestNotificationTarget(t *testing.T) {
	cases := []struct {
		nats, sns, sqs string
		kind           notifysetup.Kind // 0: refused
	}{
		{nats: "arn:minio:sqs::PRIMARY:nats", kind: notifysetup.Queue},
		{sns: "arn:aws:sns:eu-west-1:123456789012:dgp", kind: notifysetup.Topic},
		{sqs: "arn:aws:sqs:eu-west-1:123456789012:dgp", kind: notifysetup.Queue},
		{sqs: " arn:aws:sqs:eu-west-1:123456789012:dgp\n", kind: notifysetup.Queue},
		{},
		{nats: "arn:minio:sqs::PRIMARY:nats", sqs: "arn:aws:sqs:eu-west-1:123456789012:dgp"},
		{nats: "arn:aws:sqs:eu-west-1:123456789012:dgp"},
		{sns: "arn:aws:sqs:eu-west-1:123456789012:dgp"},
	}
	for _, c := range cases {
		tg, err := notificationTarget(c.nats, c.sns, c.sqs)
		if c.kind == 0 {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Errorf("%+v: err %v, want a usage error", c, err)
			}
			continue
		}
		if err != nil || tg.Kind != c.kind || strings.TrimSpace(c.nats+c.sns+c.sqs) != tg.ARN {
			t.Errorf("%+v: %+v %v", c, tg, err)
		}
	}
}

func TestSyncCommandUsage(t *testing.T) {
	t.Setenv("DGP_CONFIG_SYNC_BUCKET", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dgp.yaml")
	if err := os.WriteFile(cfg, []byte("advanced:\n  listen_addr: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sync"}, "want a subcommand"},
		{[]string{"sync", "nope"}, "unknown subcommand"},
		{[]string{"sync", "setup-notifications", "--config", cfg}, "exactly one of"},
		{[]string{"sync", "setup-notifications", "--config", cfg, "--nats-arn", "arn:minio:sqs::P:nats", "extra"}, "unexpected argument"},
		{[]string{"sync", "setup-notifications", "--config", cfg, "--nats-arn", "arn:minio:sqs::P:nats"}, "no sync bucket"},
		{[]string{"sync", "setup-notifications", "--config", cfg, "--sns-topic-arn", "arn:minio:sqs::P:nats"}, "not an SNS topic ARN"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, &out, &errOut)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want exit 2 with %q", c.args, err, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed %q", c.args, out.String())
		}
	}
}
