package main

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestParseSoakFlags(t *testing.T) {
	req := []string{"--minio", "http://127.0.0.1:9000", "--minio-access-key", "a", "--minio-secret-key", "s",
		"--nats", "nats://127.0.0.1:4222", "--minio-nats-arn", "arn:minio:sqs::PRIMARY:nats"}
	o, err := parseSoakFlags(append(req, "--duration", "90s", "--concurrency", "3", "--mutation-interval", "500ms", "--object-size", "64KiB"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 90*time.Second || o.Concurrency != 3 || o.MutationInterval != 500*time.Millisecond || o.ObjectSize != 64<<10 ||
		o.NATSSubject != "dgp.config-sync" || o.Readers != 1 {
		t.Fatalf("options %+v", o)
	}
	for name, args := range map[string][]string{
		"no servers":        {"--duration", "1m"},
		"zero concurrency":  append(append([]string(nil), req...), "--concurrency", "0"),
		"negative interval": append(append([]string(nil), req...), "--mutation-interval", "-1s"),
		"bad size":          append(append([]string(nil), req...), "--object-size", "lots"),
		"extra argument":    append(append([]string(nil), req...), "now"),
	} {
		_, err := parseSoakFlags(args, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}
