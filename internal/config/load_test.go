package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileResolution(t *testing.T) {
	dir := t.TempDir()
	explicit := writeFile(t, dir, "explicit.yaml", "advanced:\n  config_sync_bucket: explicit-bucket\n")
	viaEnv := writeFile(t, dir, "env.yaml", "advanced:\n  config_sync_bucket: env-bucket\n")

	t.Run("explicit path", func(t *testing.T) {
		cfg, _, err := Load(explicit, envMap(map[string]string{"DGP_CONFIG": viaEnv}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Advanced.ConfigSyncBucket != "explicit-bucket" {
			t.Errorf("got %q", cfg.Advanced.ConfigSyncBucket)
		}
	})
	t.Run("DGP_CONFIG", func(t *testing.T) {
		cfg, _, err := Load("", envMap(map[string]string{"DGP_CONFIG": viaEnv}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Advanced.ConfigSyncBucket != "env-bucket" {
			t.Errorf("got %q", cfg.Advanced.ConfigSyncBucket)
		}
	})
	t.Run("missing explicit file", func(t *testing.T) {
		_, _, err := Load(filepath.Join(dir, "nope.yaml"), nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("missing DGP_CONFIG file", func(t *testing.T) {
		_, _, err := Load("", envMap(map[string]string{"DGP_CONFIG": filepath.Join(dir, "nope.yaml")}))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("default file absent", func(t *testing.T) {
		t.Chdir(t.TempDir())
		cfg, _, err := Load("", nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Advanced.ConfigSyncBucket != "" {
			t.Errorf("got %q", cfg.Advanced.ConfigSyncBucket)
		}
	})
	t.Run("default file present", func(t *testing.T) {
		wd := t.TempDir()
		writeFile(t, wd, DefaultFile, "advanced:\n  config_sync_bucket: default-bucket\n")
		t.Chdir(wd)
		cfg, _, err := Load("", envMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Advanced.ConfigSyncBucket != "default-bucket" {
			t.Errorf("got %q", cfg.Advanced.ConfigSyncBucket)
		}
	})
	t.Run("default file broken", func(t *testing.T) {
		wd := t.TempDir()
		writeFile(t, wd, DefaultFile, "advanced:\n  log_level: nope\n")
		t.Chdir(wd)
		_, _, err := Load("", envMap(nil))
		var errs *Errors
		if !errors.As(err, &errs) || !hasError(errs.List, "advanced.log_level", "not one of") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a directory", func(t *testing.T) {
		if _, _, err := Load(dir, nil); err == nil {
			t.Errorf("loading a directory succeeded")
		}
	})
}

func TestLoadEnvironWarnsAboutUnknownVariables(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "advanced:\n  log_level: warn\n")
	environ := []string{
		"PATH=/usr/bin",
		"DGP_CONFIG=" + p,
		"DGP_TEST_MINIO=http://127.0.0.1:19000",
		"DGP_CONFIG_SYNC_BUCKET=dgp-iam-sync",
		"DGP_CONFIG_SYNC_OBJECT_KEY=a/config.db",
		"DGP_CONFIG_SYNC_BUKET=typo",
		"DGP_SOMETHING_ELSE=1",
		"DGP_LOG_LEVEL=debug",
	}
	cfg, warnings, err := LoadEnviron("", environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Advanced.LogLevel != "debug" || cfg.Advanced.ConfigSyncBucket != "dgp-iam-sync" || cfg.Advanced.ConfigSyncObjectKey != "a/config.db" {
		t.Errorf("config: %+v", cfg.Advanced)
	}
	want := []string{
		"DGP_CONFIG_SYNC_BUKET: unknown environment variable, ignored (did you mean DGP_CONFIG_SYNC_BUCKET?)",
		"DGP_SOMETHING_ELSE: unknown environment variable, ignored",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n%s\n--- want:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestWarnings(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing to say", nil, nil},
		{"sync settings without a bucket", map[string]string{
			"DGP_CONFIG_SYNC_NATS_URL": "nats://127.0.0.1:4222", "DGP_CONFIG_SYNC_SQS_QUEUE_URL": "http://127.0.0.1:4100/q",
			"DGP_CONFIG_SYNC_S3_REGION": "eu-west-1",
		}, []string{
			"advanced.config_sync_s3: ignored: advanced.config_sync_bucket is not set",
			"advanced.config_sync_nats.url (DGP_CONFIG_SYNC_NATS_URL): ignored: advanced.config_sync_bucket is not set",
			"advanced.config_sync_sqs.queue_url (DGP_CONFIG_SYNC_SQS_QUEUE_URL): ignored: advanced.config_sync_bucket is not set",
		}},
		{"no poll and no events", map[string]string{"DGP_CONFIG_SYNC_BUCKET": "b-sync", "DGP_CONFIG_SYNC_POLL_INTERVAL": "0"}, []string{
			"advanced.config_sync_poll_interval (DGP_CONFIG_SYNC_POLL_INTERVAL): 0 with no event source: instances pull only at startup and on sync-now",
		}},
		{"writer url on the writer", map[string]string{"DGP_CONFIG_SYNC_BUCKET": "b-sync", "DGP_CONFIG_SYNC_WRITER_URL": "http://w:9000"}, []string{
			"advanced.config_sync_writer_url (DGP_CONFIG_SYNC_WRITER_URL): only used by readers (advanced.config_sync_role: reader)",
		}},
		{"write schema on a reader", map[string]string{"DGP_CONFIG_SYNC_BUCKET": "b-sync", "DGP_CONFIG_SYNC_ROLE": "reader", "DGP_CONFIG_SYNC_WRITE_SCHEMA": "1"}, []string{
			"advanced.config_sync_write_schema (DGP_CONFIG_SYNC_WRITE_SCHEMA): only used by writers (a reader never publishes)",
		}},
		{"allow empty in gui mode", map[string]string{"DGP_IAM_ALLOW_EMPTY": "true"}, []string{
			"access.iam_allow_empty (DGP_IAM_ALLOW_EMPTY): only used with access.iam_mode: declarative",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, warnings, err := Parse("x", nil, envMap(c.env))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(warnings, c.want) {
				t.Errorf("warnings:\n%s\n--- want:\n%s", strings.Join(warnings, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestEnvNameRule(t *testing.T) {
	cases := map[string]string{
		"advanced.config_sync_bucket":           "DGP_CONFIG_SYNC_BUCKET",
		"advanced.tls.cert_file":                "DGP_TLS_CERT_FILE",
		"access.iam_mode":                       "DGP_IAM_MODE",
		"storage.s3":                            "DGP_STORAGE_S3",
		"storage.default_backend":               "DGP_STORAGE_DEFAULT_BACKEND",
		"advanced.config_sync_nats.tls.ca_file": "DGP_CONFIG_SYNC_NATS_TLS_CA_FILE",
	}
	for path, want := range cases {
		if got := envName(path); got != want {
			t.Errorf("envName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestDocsListEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, k := range Keys() {
		if !strings.Contains(doc, "`"+k.Path+"`") {
			t.Errorf("docs/configuration.md does not list `%s`", k.Path)
		}
		for _, env := range k.Env {
			if !strings.Contains(doc, "`"+env+"`") {
				t.Errorf("docs/configuration.md does not name `%s` (for %s)", env, k.Path)
			}
		}
	}
}
