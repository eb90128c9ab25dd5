package config

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

const testBcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

// keyCase sets one key to a value, by file and by environment.
type keyCase struct {
	path  string
	env   string
	value string            // as written in the environment (and quoted into YAML)
	yaml  string            // YAML literal when it differs from the quoted value
	extra map[string]string // other variables the value needs to be valid
	get   func(*Config) any
	want  any
}

// keyCases covers every key settable from the environment; the test below
// fails when a key is added without a case here.
var keyCases = []keyCase{
	{path: "access.access_key_id", env: "DGP_ACCESS_KEY_ID", value: "rootkey",
		extra: map[string]string{"DGP_SECRET_ACCESS_KEY": "rootsecret"},
		get:   func(c *Config) any { return c.Access.AccessKeyID }, want: "rootkey"},
	{path: "access.secret_access_key", env: "DGP_SECRET_ACCESS_KEY", value: "rootsecret",
		extra: map[string]string{"DGP_ACCESS_KEY_ID": "rootkey"},
		get:   func(c *Config) any { return c.Access.SecretAccessKey }, want: "rootsecret"},
	{path: "access.iam_mode", env: "DGP_IAM_MODE", value: "declarative",
		extra: map[string]string{"DGP_IAM_ALLOW_EMPTY": "true"},
		get:   func(c *Config) any { return c.Access.IAMMode }, want: IAMModeDeclarative},
	{path: "access.iam_allow_empty", env: "DGP_IAM_ALLOW_EMPTY", value: "1", yaml: "true",
		get: func(c *Config) any { return c.Access.IAMAllowEmpty }, want: true},
	{path: "access.bootstrap_password", env: "DGP_BOOTSTRAP_PASSWORD", value: "correct horse",
		get: func(c *Config) any { return c.Access.BootstrapPassword }, want: "correct horse"},
	{path: "access.bootstrap_password_hash", env: "DGP_BOOTSTRAP_PASSWORD_HASH", value: testBcrypt,
		get: func(c *Config) any { return c.Access.BootstrapPasswordHash }, want: testBcrypt},
	{path: "access.session_ttl", env: "DGP_SESSION_TTL", value: "90m",
		get: func(c *Config) any { return c.Access.SessionTTL }, want: 90 * time.Minute},
	{path: "access.login_rate_limit", env: "DGP_LOGIN_RATE_LIMIT", value: "3", yaml: "3",
		get: func(c *Config) any { return c.Access.LoginRateLimit }, want: 3},
	{path: "access.sigv2", env: "DGP_SIGV2", value: "false", yaml: "false",
		get: func(c *Config) any { return c.Access.SigV2 }, want: false},
	{path: "access.regions", env: "DGP_REGIONS", value: "eu-west-1, us-east-1", yaml: "[eu-west-1, us-east-1]",
		get: func(c *Config) any { return c.Access.Regions }, want: []string{"eu-west-1", "us-east-1"}},

	{path: "storage.filesystem", env: "DGP_STORAGE_FILESYSTEM", value: "/srv/objects",
		get: func(c *Config) any { return c.Storage.Filesystem }, want: "/srv/objects"},
	{path: "storage.s3", env: "DGP_STORAGE_S3", value: "http://127.0.0.1:9001",
		get: func(c *Config) any { return c.Storage.S3 }, want: "http://127.0.0.1:9001"},
	{path: "storage.region", env: "DGP_STORAGE_REGION", value: "eu-west-1",
		extra: map[string]string{"DGP_STORAGE_S3": "https://s3.example.com"},
		get:   func(c *Config) any { return c.Storage.Region }, want: "eu-west-1"},
	{path: "storage.access_key_id", env: "DGP_STORAGE_ACCESS_KEY_ID", value: "storagekey",
		extra: map[string]string{"DGP_STORAGE_S3": "https://s3.example.com", "DGP_STORAGE_SECRET_ACCESS_KEY": "storagesecret"},
		get:   func(c *Config) any { return c.Storage.AccessKeyID }, want: "storagekey"},
	{path: "storage.secret_access_key", env: "DGP_STORAGE_SECRET_ACCESS_KEY", value: "storagesecret",
		extra: map[string]string{"DGP_STORAGE_S3": "https://s3.example.com", "DGP_STORAGE_ACCESS_KEY_ID": "storagekey"},
		get:   func(c *Config) any { return c.Storage.SecretAccessKey }, want: "storagesecret"},
	{path: "storage.force_path_style", env: "DGP_STORAGE_FORCE_PATH_STYLE", value: "true", yaml: "true",
		extra: map[string]string{"DGP_STORAGE_S3": "https://s3.example.com"},
		get:   func(c *Config) any { return c.Storage.ForcePathStyle }, want: true},
	{path: "storage.default_backend", env: "DGP_STORAGE_DEFAULT_BACKEND", value: "default",
		get: func(c *Config) any { return c.Storage.DefaultBackend }, want: "default"},
	{path: "storage.replication.enabled", env: "DGP_STORAGE_REPLICATION_ENABLED", value: "false", yaml: "false",
		get: func(c *Config) any { return c.Storage.Replication.Enabled }, want: false},
	{path: "storage.replication.tick_interval", env: "DGP_STORAGE_REPLICATION_TICK_INTERVAL", value: "15s",
		get: func(c *Config) any { return c.Storage.Replication.TickInterval }, want: 15 * time.Second},
	{path: "storage.replication.lease_ttl", env: "DGP_STORAGE_REPLICATION_LEASE_TTL", value: "90s",
		get: func(c *Config) any { return c.Storage.Replication.LeaseTTL }, want: 90 * time.Second},
	{path: "storage.replication.heartbeat_interval", env: "DGP_STORAGE_REPLICATION_HEARTBEAT_INTERVAL", value: "10s",
		get: func(c *Config) any { return c.Storage.Replication.HeartbeatInterval }, want: 10 * time.Second},
	{path: "storage.replication.max_failures_retained", env: "DGP_STORAGE_REPLICATION_MAX_FAILURES_RETAINED", value: "50", yaml: "50",
		get: func(c *Config) any { return c.Storage.Replication.MaxFailuresRetained }, want: 50},
	{path: "storage.lifecycle.enabled", env: "DGP_STORAGE_LIFECYCLE_ENABLED", value: "true", yaml: "true",
		get: func(c *Config) any { return c.Storage.Lifecycle.Enabled }, want: true},
	{path: "storage.lifecycle.tick_interval", env: "DGP_STORAGE_LIFECYCLE_TICK_INTERVAL", value: "1d",
		get: func(c *Config) any { return c.Storage.Lifecycle.TickInterval }, want: 24 * time.Hour},
	{path: "storage.lifecycle.max_failures_retained", env: "DGP_STORAGE_LIFECYCLE_MAX_FAILURES_RETAINED", value: "500", yaml: "500",
		get: func(c *Config) any { return c.Storage.Lifecycle.MaxFailuresRetained }, want: 500},

	{path: "advanced.listen_addr", env: "DGP_LISTEN_ADDR", value: "127.0.0.1:0",
		get: func(c *Config) any { return c.Advanced.ListenAddr }, want: "127.0.0.1:0"},
	{path: "advanced.data_dir", env: "DGP_DATA_DIR", value: "/var/lib/dgp",
		get: func(c *Config) any { return c.Advanced.DataDir }, want: "/var/lib/dgp"},
	{path: "advanced.tls.cert_file", env: "DGP_TLS_CERT_FILE", value: "cert.pem",
		extra: map[string]string{"DGP_TLS_KEY_FILE": "key.pem"},
		get:   func(c *Config) any { return c.Advanced.TLS.CertFile }, want: "cert.pem"},
	{path: "advanced.tls.key_file", env: "DGP_TLS_KEY_FILE", value: "key.pem",
		extra: map[string]string{"DGP_TLS_CERT_FILE": "cert.pem"},
		get:   func(c *Config) any { return c.Advanced.TLS.KeyFile }, want: "key.pem"},
	{path: "advanced.virtual_host_domains", env: "DGP_VIRTUAL_HOST_DOMAINS", value: "s3.example.com, localhost",
		yaml: "[s3.example.com, localhost]",
		get:  func(c *Config) any { return c.Advanced.VirtualHostDomains }, want: []string{"s3.example.com", "localhost"}},
	{path: "advanced.log_level", env: "DGP_LOG_LEVEL", value: "debug",
		get: func(c *Config) any { return c.Advanced.LogLevel }, want: "debug"},
	{path: "advanced.log_format", env: "DGP_LOG_FORMAT", value: "console",
		get: func(c *Config) any { return c.Advanced.LogFormat }, want: "console"},
	{path: "advanced.shutdown_timeout", env: "DGP_SHUTDOWN_TIMEOUT", value: "45s",
		get: func(c *Config) any { return c.Advanced.ShutdownTimeout }, want: 45 * time.Second},
	{path: "advanced.max_header_bytes", env: "DGP_MAX_HEADER_BYTES", value: "131072", yaml: "131072",
		get: func(c *Config) any { return c.Advanced.MaxHeaderBytes }, want: 131072},
	{path: "advanced.s3_fast_path", env: "DGP_S3_FAST_PATH", value: "false", yaml: "false",
		get: func(c *Config) any { return c.Advanced.S3FastPath }, want: false},
	{path: "advanced.node_id", env: "DGP_NODE_ID", value: "node-a",
		get: func(c *Config) any { return c.Advanced.NodeID }, want: "node-a"},
	{path: "advanced.config_sync_bucket", env: "DGP_CONFIG_SYNC_BUCKET", value: "dgp-iam-sync",
		get: func(c *Config) any { return c.Advanced.ConfigSyncBucket }, want: "dgp-iam-sync"},
	{path: "advanced.config_sync_object_key", env: "DGP_CONFIG_SYNC_KEY", value: "iam/config.db",
		get: func(c *Config) any { return c.Advanced.ConfigSyncObjectKey }, want: "iam/config.db"},
	{path: "advanced.config_sync_poll_interval", env: "DGP_CONFIG_SYNC_POLL_INTERVAL", value: "60s",
		get: func(c *Config) any { return c.Advanced.ConfigSyncPollInterval }, want: time.Minute},
	{path: "advanced.config_sync_role", env: "DGP_CONFIG_SYNC_ROLE", value: "reader",
		extra: map[string]string{"DGP_CONFIG_SYNC_BUCKET": "dgp-iam-sync"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncRole }, want: SyncRoleReader},
	{path: "advanced.advertise_url", env: "DGP_ADVERTISE_URL", value: "http://10.0.0.7:9000",
		get: func(c *Config) any { return c.Advanced.AdvertiseURL }, want: "http://10.0.0.7:9000"},
	{path: "advanced.config_sync_writer_url", env: "DGP_CONFIG_SYNC_WRITER_URL", value: "https://dgp-writer:9000",
		get: func(c *Config) any { return c.Advanced.ConfigSyncWriterURL }, want: "https://dgp-writer:9000"},
	{path: "advanced.config_sync_write_schema", env: "DGP_CONFIG_SYNC_WRITE_SCHEMA", value: "1", yaml: "1",
		get: func(c *Config) any { return c.Advanced.ConfigSyncWriteSchema }, want: 1},
	{path: "advanced.config_sync_s3.endpoint", env: "DGP_CONFIG_SYNC_S3_ENDPOINT", value: "http://127.0.0.1:9002",
		get: func(c *Config) any { return c.Advanced.ConfigSyncS3.Endpoint }, want: "http://127.0.0.1:9002"},
	{path: "advanced.config_sync_s3.region", env: "DGP_CONFIG_SYNC_S3_REGION", value: "us-west-2",
		get: func(c *Config) any { return c.Advanced.ConfigSyncS3.Region }, want: "us-west-2"},
	{path: "advanced.config_sync_s3.access_key_id", env: "DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID", value: "synckey",
		extra: map[string]string{"DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY": "syncsecret"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncS3.AccessKeyID }, want: "synckey"},
	{path: "advanced.config_sync_s3.secret_access_key", env: "DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY", value: "syncsecret",
		extra: map[string]string{"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID": "synckey"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncS3.SecretAccessKey }, want: "syncsecret"},
	{path: "advanced.config_sync_s3.force_path_style", env: "DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE", value: "1", yaml: "true",
		get: func(c *Config) any { return c.Advanced.ConfigSyncS3.ForcePathStyle }, want: true},
	{path: "advanced.config_sync_nats.url", env: "DGP_CONFIG_SYNC_NATS_URL", value: "nats://127.0.0.1:4222",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.URL }, want: "nats://127.0.0.1:4222"},
	{path: "advanced.config_sync_nats.subject", env: "DGP_CONFIG_SYNC_NATS_SUBJECT", value: "minio.events",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.Subject }, want: "minio.events"},
	{path: "advanced.config_sync_nats.stream", env: "DGP_CONFIG_SYNC_NATS_STREAM", value: "MINIO_EVENTS",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.Stream }, want: "MINIO_EVENTS"},
	{path: "advanced.config_sync_nats.credentials", env: "DGP_CONFIG_SYNC_NATS_CREDENTIALS", value: "/etc/nats/dgp.creds",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.Credentials }, want: "/etc/nats/dgp.creds"},
	{path: "advanced.config_sync_nats.token", env: "DGP_CONFIG_SYNC_NATS_TOKEN", value: "natstoken",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.Token }, want: "natstoken"},
	{path: "advanced.config_sync_nats.user", env: "DGP_CONFIG_SYNC_NATS_USER", value: "dgp",
		extra: map[string]string{"DGP_CONFIG_SYNC_NATS_PASSWORD": "natspass"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncNATS.User }, want: "dgp"},
	{path: "advanced.config_sync_nats.password", env: "DGP_CONFIG_SYNC_NATS_PASSWORD", value: "natspass",
		extra: map[string]string{"DGP_CONFIG_SYNC_NATS_USER": "dgp"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncNATS.Password }, want: "natspass"},
	{path: "advanced.config_sync_nats.tls.ca_file", env: "DGP_CONFIG_SYNC_NATS_TLS_CA_FILE", value: "ca.pem",
		get: func(c *Config) any { return c.Advanced.ConfigSyncNATS.TLS.CAFile }, want: "ca.pem"},
	{path: "advanced.config_sync_nats.tls.cert_file", env: "DGP_CONFIG_SYNC_NATS_TLS_CERT_FILE", value: "nats-cert.pem",
		extra: map[string]string{"DGP_CONFIG_SYNC_NATS_TLS_KEY_FILE": "nats-key.pem"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncNATS.TLS.CertFile }, want: "nats-cert.pem"},
	{path: "advanced.config_sync_nats.tls.key_file", env: "DGP_CONFIG_SYNC_NATS_TLS_KEY_FILE", value: "nats-key.pem",
		extra: map[string]string{"DGP_CONFIG_SYNC_NATS_TLS_CERT_FILE": "nats-cert.pem"},
		get:   func(c *Config) any { return c.Advanced.ConfigSyncNATS.TLS.KeyFile }, want: "nats-key.pem"},
	{path: "advanced.config_sync_sqs.queue_url", env: "DGP_CONFIG_SYNC_SQS_QUEUE_URL", value: "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-1",
		get: func(c *Config) any { return c.Advanced.ConfigSyncSQS.QueueURL }, want: "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-1"},
	{path: "advanced.config_sync_sqs.region", env: "DGP_CONFIG_SYNC_SQS_REGION", value: "eu-west-1",
		get: func(c *Config) any { return c.Advanced.ConfigSyncSQS.Region }, want: "eu-west-1"},
	{path: "advanced.config_sync_sqs.endpoint", env: "DGP_CONFIG_SYNC_SQS_ENDPOINT", value: "http://127.0.0.1:4100",
		get: func(c *Config) any { return c.Advanced.ConfigSyncSQS.Endpoint }, want: "http://127.0.0.1:4100"},
}

func TestEveryEnvKeyHasACase(t *testing.T) {
	covered := map[string]string{}
	for _, kc := range keyCases {
		covered[kc.path] = kc.env
	}
	for _, l := range leaves() {
		env, ok := covered[l.path]
		if !ok {
			t.Errorf("key %s (%s) has no case in keyCases", l.path, l.env[0])
			continue
		}
		if env != l.env[0] {
			t.Errorf("key %s: reads %s, the case expects %s", l.path, l.env[0], env)
		}
	}
	if len(covered) != len(leaves()) {
		t.Errorf("keyCases has %d keys, the config %d", len(covered), len(leaves()))
	}
}

func TestKeysFromFileAndEnv(t *testing.T) {
	for _, kc := range keyCases {
		t.Run(kc.path, func(t *testing.T) {
			if got := kc.get(Default()); reflect.DeepEqual(got, kc.want) {
				t.Fatalf("the case's value %v is the default: it proves nothing", kc.want)
			}
			lit := kc.yaml
			if lit == "" {
				lit = strconv.Quote(kc.value)
			}

			t.Run("file", func(t *testing.T) {
				cfg := mustParse(t, nest(kc.path, lit), kc.extra)
				if got := kc.get(cfg); !reflect.DeepEqual(got, kc.want) {
					t.Errorf("got %#v, want %#v", got, kc.want)
				}
			})
			t.Run("env", func(t *testing.T) {
				env := map[string]string{kc.env: kc.value}
				for k, v := range kc.extra {
					env[k] = v
				}
				cfg := mustParse(t, "", env)
				if got := kc.get(cfg); !reflect.DeepEqual(got, kc.want) {
					t.Errorf("got %#v, want %#v", got, kc.want)
				}
				if cfg.origin[kc.path] != kc.env {
					t.Errorf("origin of %s = %q, want %q", kc.path, cfg.origin[kc.path], kc.env)
				}
			})
		})
	}
}

func TestEnvBeatsFile(t *testing.T) {
	doc := `
advanced:
  config_sync_bucket: from-file
  log_level: warn
  config_sync_poll_interval: 10m
  virtual_host_domains: [file.example.com]
storage:
  filesystem: /from/file
`
	cfg := mustParse(t, doc, map[string]string{
		"DGP_CONFIG_SYNC_BUCKET":        "from-env",
		"DGP_CONFIG_SYNC_POLL_INTERVAL": "0",
		"DGP_VIRTUAL_HOST_DOMAINS":      "env.example.com",
	})
	checks := []struct {
		name      string
		got, want any
	}{
		{"bucket (env)", cfg.Advanced.ConfigSyncBucket, "from-env"},
		{"poll interval (env, zero)", cfg.Advanced.ConfigSyncPollInterval, time.Duration(0)},
		{"domains (env)", cfg.Advanced.VirtualHostDomains, []string{"env.example.com"}},
		{"log level (file)", cfg.Advanced.LogLevel, "warn"},
		{"filesystem (file)", cfg.Storage.Filesystem, "/from/file"},
		{"listen addr (default)", cfg.Advanced.ListenAddr, DefaultListenAddr},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	cfg := mustParse(t, "advanced:\n  log_level: warn\n", map[string]string{
		"DGP_LOG_LEVEL":          "",
		"DGP_CONFIG_SYNC_BUCKET": "",
	})
	if cfg.Advanced.LogLevel != "warn" || cfg.Advanced.ConfigSyncBucket != "" {
		t.Errorf("empty variables changed the config: log_level %q, bucket %q", cfg.Advanced.LogLevel, cfg.Advanced.ConfigSyncBucket)
	}
}

func TestSyncKeyEnvAliases(t *testing.T) {
	cfg := mustParse(t, "", map[string]string{"DGP_CONFIG_SYNC_OBJECT_KEY": "a/b.db"})
	if got := cfg.Advanced.ConfigSyncObjectKey; got != "a/b.db" {
		t.Errorf("DGP_CONFIG_SYNC_OBJECT_KEY: got %q", got)
	}
	cfg = mustParse(t, "", map[string]string{"DGP_CONFIG_SYNC_OBJECT_KEY": "a/b.db", "DGP_CONFIG_SYNC_KEY": "a/b.db"})
	if got := cfg.Advanced.ConfigSyncObjectKey; got != "a/b.db" {
		t.Errorf("both names, same value: got %q", got)
	}
	list := parseErrors(t, "", map[string]string{"DGP_CONFIG_SYNC_OBJECT_KEY": "a.db", "DGP_CONFIG_SYNC_KEY": "b.db"})
	if !hasError(list, "advanced.config_sync_object_key", "both set") {
		t.Errorf("conflicting names: got %q", lines(list))
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"iam_mode", d.Access.IAMMode, IAMModeGUI},
		{"session_ttl", d.Access.SessionTTL, 4 * time.Hour},
		{"login_rate_limit", d.Access.LoginRateLimit, 10},
		{"listen_addr", d.Advanced.ListenAddr, "0.0.0.0:9000"},
		{"data_dir", d.Advanced.DataDir, "./data"},
		{"log_level", d.Advanced.LogLevel, "info"},
		{"log_format", d.Advanced.LogFormat, "auto"},
		{"shutdown_timeout", d.Advanced.ShutdownTimeout, 30 * time.Second},
		{"max_header_bytes", d.Advanced.MaxHeaderBytes, 64 * 1024},
		{"config_sync_object_key", d.Advanced.ConfigSyncObjectKey, ".deltaglider/config.db"},
		{"config_sync_poll_interval", d.Advanced.ConfigSyncPollInterval, 5 * time.Minute},
		{"config_sync_role", d.Advanced.ConfigSyncRole, SyncRoleWriter},
		{"config_sync_write_schema", d.Advanced.ConfigSyncWriteSchema, 0},
		{"config_sync_nats.subject", d.Advanced.ConfigSyncNATS.Subject, "dgp.config-sync"},
		{"config_sync_bucket", d.Advanced.ConfigSyncBucket, ""},
		{"tls", d.TLSEnabled(), false},
		{"sync", d.SyncEnabled(), false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Default() does not validate:\n%v", err)
	}

	// Nothing set anywhere gives exactly the defaults.
	for _, doc := range []string{"", "# only a comment\n", "---\n", "access:\nstorage:\nadvanced:\n"} {
		cfg := mustParse(t, doc, nil)
		cfg.origin = nil
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("document %q: got %+v, want the defaults", doc, cfg)
		}
	}
}

func TestEnvListsAndBools(t *testing.T) {
	cfg := mustParse(t, "", map[string]string{"DGP_VIRTUAL_HOST_DOMAINS": " a.example.com,,b.example.com , "})
	if want := []string{"a.example.com", "b.example.com"}; !slices.Equal(cfg.Advanced.VirtualHostDomains, want) {
		t.Errorf("list: got %q, want %q", cfg.Advanced.VirtualHostDomains, want)
	}
	for val, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "false": false, "0": false, "False": false} {
		cfg := mustParse(t, "", map[string]string{"DGP_STORAGE_S3": "http://h:1", "DGP_STORAGE_FORCE_PATH_STYLE": val})
		if cfg.Storage.ForcePathStyle != want {
			t.Errorf("bool %q: got %v", val, cfg.Storage.ForcePathStyle)
		}
	}
}
