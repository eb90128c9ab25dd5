package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEveryErrorReportedAtOnce(t *testing.T) {
	doc := `
access:
  iam_mode: yaml
  session_ttl: forever
  access_key_id: onlythekey
storage:
  filesystem: /srv/a
  s3: http://minio:99999
advanced:
  config_sync_bucket_typo: dgp-iam-sync
  log_level: verbose
  listen_addr: "0.0.0.0:70000"
  tls:
    cert_file: cert.pem
  config_sync_poll_interval: 100ms
  config_sync_role: leader
  max_header_bytes: lots
`
	list := parseErrors(t, doc, map[string]string{"DGP_LOG_FORMAT": "xml", "DGP_SHUTDOWN_TIMEOUT": "soon"})
	want := []string{
		`access.session_ttl: "forever" is not a duration (use a unit, e.g. 30s, 5m, 1h)`,
		`advanced.config_sync_bucket_typo: unknown key`,
		`advanced.max_header_bytes: "lots" is not an integer`,
		`advanced.shutdown_timeout (DGP_SHUTDOWN_TIMEOUT): "soon" is not a duration (use a unit, e.g. 30s, 5m, 1h)`,
		`access.secret_access_key: required when access.access_key_id is set`,
		`access.iam_mode: "yaml" is not one of gui, declarative`,
		`storage.filesystem: set only one of storage.filesystem, storage.s3 and storage.backends (also set: storage.s3)`,
		`storage.s3: set only one of storage.filesystem, storage.s3 and storage.backends (also set: storage.filesystem)`,
		`storage.s3: "http://minio:99999": port 99999 is out of range 1-65535`,
		`advanced.listen_addr: port "70000" is out of range 0-65535`,
		`advanced.tls.key_file: required when advanced.tls.cert_file is set`,
		`advanced.log_level: "verbose" is not one of debug, info, warn, error`,
		`advanced.log_format (DGP_LOG_FORMAT): "xml" is not one of auto, json, console`,
		`advanced.config_sync_poll_interval: must be 0 (no poll) or at least 1s`,
		`advanced.config_sync_role: "leader" is not one of writer, reader`,
	}
	got := lines(list)
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Error() joins them one per line.
	var errs *Errors
	_, _, err := Parse("x", []byte(doc), envMap(nil))
	if !errors.As(err, &errs) {
		t.Fatalf("got %T", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(errs.List) {
		t.Errorf("Error() has %d lines for %d errors", n, len(errs.List))
	}
}

func TestUnknownKeys(t *testing.T) {
	doc := `
acess:
  iam_mode: gui
access:
  iam_mode: declarative
  iam:
    users:
      - name: alice
        nmae: typo
        access_key_id: AKIAALICE0000001
        secret_access_key: alicesecret
        permissions:
          - effect: Allow
            actions: [read]
            resources: ["*"]
            condition: x
storage:
  backends:
    - name: main
      type: filesystem
      path: /srv
      bucket: nope
  buckets:
    photos:
      backnd: main
advanced:
  config_sync_bucket_typo: dgp-iam-sync
  tls:
    cert: x
  config_sync_nats:
    url: nats://127.0.0.1:4222
    subjet: x
`
	list := parseErrors(t, doc, nil)
	want := []string{
		"acess: unknown key",
		"access.iam.users[0].nmae: unknown key",
		"access.iam.users[0].permissions[0].condition: unknown key",
		"storage.backends[0].bucket: unknown key",
		"storage.buckets.photos.backnd: unknown key",
		"advanced.config_sync_bucket_typo: unknown key",
		"advanced.tls.cert: unknown key",
		"advanced.config_sync_nats.subjet: unknown key",
	}
	if got := lines(list); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestShapeErrors(t *testing.T) {
	cases := []struct {
		name, doc, path, problem string
	}{
		{"root is a list", "- a\n- b\n", "", "must be a mapping"},
		{"section is a string", "advanced: yes\n", "advanced", "expected a mapping"},
		{"list given a string", "advanced:\n  virtual_host_domains: a.example.com\n", "advanced.virtual_host_domains", "expected a list"},
		{"string given a mapping", "advanced:\n  data_dir: {a: b}\n", "advanced.data_dir", "expected a string"},
		{"bool", "access:\n  iam_allow_empty: maybe\n", "access.iam_allow_empty", "is not a boolean"},
		{"int", "access:\n  login_rate_limit: 1.5\n", "access.login_rate_limit", "is not an integer"},
		{"duration without unit", "access:\n  session_ttl: 300\n", "access.session_ttl", "is not a duration"},
		{"duplicate key", "advanced:\n  log_level: info\n  log_level: debug\n", "advanced.log_level", "duplicate key"},
		{"duplicate bucket", "storage:\n  buckets:\n    abc: {}\n    abc: {}\n", "storage.buckets.abc", "duplicate key"},
		{"merge key", "x: &x {log_level: info}\nadvanced:\n  <<: *x\n", "x", "unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list := parseErrors(t, c.doc, nil)
			if !hasError(list, c.path, c.problem) {
				t.Errorf("want %s: ...%s...; got %q", c.path, c.problem, lines(list))
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	_, _, err := Parse("bad.yaml", []byte("advanced:\n  log_level: [unclosed\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("got %v, want a parse error naming the file", err)
	}
	var errs *Errors
	if errors.As(err, &errs) {
		t.Errorf("a syntax error is not a list of field errors")
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	doc := `
storage:
  backends:
    - &fs {name: a, type: filesystem, path: /a}
    - {name: b, type: filesystem, path: /b}
advanced:
  log_level: &lvl debug
  log_format: json
`
	cfg := mustParse(t, doc, nil)
	if cfg.Advanced.LogLevel != "debug" || len(cfg.Storage.Backends) != 2 {
		t.Errorf("got %+v", cfg)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env, val, path string
	}{
		{"DGP_LOG_LEVEL", "loud", "advanced.log_level"},
		{"DGP_SESSION_TTL", "1 day", "access.session_ttl"},
		{"DGP_IAM_ALLOW_EMPTY", "yes please", "access.iam_allow_empty"},
		{"DGP_LOGIN_RATE_LIMIT", "ten", "access.login_rate_limit"},
		{"DGP_CONFIG_SYNC_NATS_URL", "http://127.0.0.1:4222", "advanced.config_sync_nats.url"},
		{"DGP_LISTEN_ADDR", "9000", "advanced.listen_addr"},
		{"DGP_STORAGE_S3", "minio:9000", "storage.s3"},
		{"DGP_CONFIG_SYNC_BUCKET", "Bad_Bucket", "advanced.config_sync_bucket"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			list := parseErrors(t, "", map[string]string{c.env: c.val})
			for _, fe := range list {
				if fe.Path == c.path {
					if fe.Env != c.env || !strings.Contains(fe.Error(), "("+c.env+")") {
						t.Errorf("error %q does not name %s", fe.Error(), c.env)
					}
					return
				}
			}
			t.Errorf("no error at %s: %q", c.path, lines(list))
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	doc := `
access:
  iam_mode: declarative
  bootstrap_password: ${BOOT_PW}
  iam:
    users:
      - name: alice
        access_key_id: AKIAALICE0000001
        secret_access_key: ${ALICE_SECRET}
      - name: bob
        access_key_id: AKIABOB000000001
        secret_access_key: "plain${NOT_EXPANDED}"
    auth_providers:
      - name: corp
        type: oidc
        issuer_url: https://login.example.com
        client_id: dgp
        client_secret: ${OIDC_SECRET}
storage:
  s3: http://127.0.0.1:9000
  access_key_id: minio
  secret_access_key: ${MINIO_SECRET}
advanced:
  node_id: ${NOT_A_SECRET}
`
	env := map[string]string{
		"BOOT_PW": "bootstrap-pw", "ALICE_SECRET": "alice-secret-value",
		"OIDC_SECRET": "oidc-secret-value", "MINIO_SECRET": "minio-secret-value",
	}
	_, _, err := Parse("x", []byte(doc), envMap(env))
	// node_id is not a secret: ${...} stays literal there and is then invalid.
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != 1 || errs.List[0].Path != "advanced.node_id" {
		t.Fatalf("want exactly one error at advanced.node_id, got %v", err)
	}
	doc = strings.Replace(doc, "node_id: ${NOT_A_SECRET}", "node_id: n1", 1)
	cfg := mustParse(t, doc, env)
	checks := []struct{ name, got, want string }{
		{"bootstrap_password", cfg.Access.BootstrapPassword, "bootstrap-pw"},
		{"alice secret", cfg.Access.IAM.Users[0].SecretAccessKey, "alice-secret-value"},
		{"bob secret (not a whole-value reference)", cfg.Access.IAM.Users[1].SecretAccessKey, "plain${NOT_EXPANDED}"},
		{"client_secret", cfg.Access.IAM.AuthProviders[0].ClientSecret, "oidc-secret-value"},
		{"storage secret", cfg.Storage.SecretAccessKey, "minio-secret-value"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}

	// A missing or empty variable is an error naming the path and the
	// variable, and nothing else.
	delete(env, "ALICE_SECRET")
	env["OIDC_SECRET"] = ""
	list := parseErrors(t, doc, env)
	want := []string{
		"access.iam.users[0].secret_access_key: environment variable ALICE_SECRET is not set",
		"access.iam.auth_providers[0].client_secret: environment variable OIDC_SECRET is empty",
	}
	if got := lines(list); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	// Every secret here is invalid in some way, or sits next to an invalid value.
	doc := `
access:
  access_key_id: "bad key!"
  secret_access_key: "s3cr3t-A"
  bootstrap_password: "pw-B"
  bootstrap_password_hash: "not-a-hash-C"
  iam_mode: declarative
  iam:
    users:
      - name: alice
        access_key_id: lowercase
        secret_access_key: "sec-D"
    auth_providers:
      - name: corp
        type: oidc
        issuer_url: "ftp://x"
        client_id: dgp
        client_secret: "client-E"
storage:
  s3: "http://user:minio-pass-F@127.0.0.1:9000"
  secret_access_key: "storage-G"
advanced:
  config_sync_nats:
    url: "nats://bob:nats-pass-H@127.0.0.1:4222"
    token: "token-I"
    password: "password-J"
  config_sync_s3:
    secret_access_key: "sync-K"
`
	list := parseErrors(t, doc, map[string]string{"DGP_CONFIG_SYNC_NATS_TOKEN": "env-token-L"})
	text := strings.Join(lines(list), "\n")
	for _, secret := range []string{"s3cr3t-A", "pw-B", "not-a-hash-C", "sec-D", "client-E", "minio-pass-F", "storage-G", "nats-pass-H", "token-I", "password-J", "sync-K", "env-token-L"} {
		if strings.Contains(text, secret) {
			t.Errorf("an error shows the secret %q:\n%s", secret, text)
		}
	}
	if len(list) < 8 {
		t.Errorf("expected many errors, got:\n%s", text)
	}
}
