package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheckReportsEveryErrorAndExits2(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dgp.yaml")
	yaml := "advanced:\n  listen_addr: nowhere\n  log_level: loud\n  bogus_key: 1\nstorage:\n  filesystem: /x\n  s3: http://minio:9000\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"config", "check", "--config", cfg}, &stdout, &stderr)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want exit code 2, got %v", err)
	}
	for _, want := range []string{"advanced.listen_addr", "advanced.log_level", "advanced.bogus_key", "storage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error list lacks %s:\n%v", want, err)
		}
	}
}

func TestConfigCheckValidPrintsRedacted(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dgp.yaml")
	yaml := "access:\n  access_key_id: ROOTKEY\n  secret_access_key: super-secret-value\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"config", "check", "--config", cfg, "--print"}, &stdout, &stderr); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if strings.Contains(stdout.String(), "super-secret-value") || !strings.Contains(stdout.String(), "ROOTKEY") {
		t.Fatalf("printed config:\n%s", stdout.String())
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, &out, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want usage error, got %v", err)
	}
}
