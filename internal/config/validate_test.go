package config

import (
	"errors"
	"strings"
	"testing"
)

const validIAM = `
access:
  iam_mode: declarative
  iam:
    groups:
      - name: readers
        description: read everything
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["*"]}
      - name: ops
        permissions:
          - {effect: Allow, actions: ["*"], resources: ["logs/*", "backups"]}
          - {effect: Deny, actions: [delete], resources: ["backups/*"]}
    users:
      - name: alice
        access_key_id: AKIAALICE0000001
        secret_access_key: alice-secret
        groups: [readers, ops]
      - name: bob
        access_key_id: AKIABOB000000001
        secret_access_key: bob-secret-1
        enabled: false
        permissions:
          - {effect: Allow, actions: [write], resources: ["uploads/bob/*"]}
      - name: svc
    auth_providers:
      - name: corp
        type: oidc
        issuer_url: https://login.example.com/realms/corp
        client_id: dgp
        client_secret: oidc-secret
        scopes: [openid, email]
        priority: 2
        display_name: Corp SSO
`

func TestValidIAM(t *testing.T) {
	cfg := mustParse(t, validIAM, nil)
	iam := cfg.Access.IAM
	if len(iam.Users) != 3 || len(iam.Groups) != 2 || len(iam.AuthProviders) != 1 {
		t.Fatalf("got %d users, %d groups, %d providers", len(iam.Users), len(iam.Groups), len(iam.AuthProviders))
	}
	if !iam.Users[0].IsEnabled() || iam.Users[1].IsEnabled() || !iam.Users[2].IsEnabled() {
		t.Errorf("enabled: alice %v, bob %v, svc %v", iam.Users[0].IsEnabled(), iam.Users[1].IsEnabled(), iam.Users[2].IsEnabled())
	}
	if g := iam.Users[0].Groups; len(g) != 2 || g[1] != "ops" {
		t.Errorf("alice groups: %q", g)
	}
	r := iam.Groups[1].Permissions[1]
	if r.Effect != "Deny" || r.Actions[0] != "delete" || r.Resources[0] != "backups/*" {
		t.Errorf("ops rule 1: %+v", r)
	}
	p := iam.AuthProviders[0]
	if !p.IsEnabled() || p.Priority != 2 || p.DisplayName != "Corp SSO" || strings.Join(p.EffectiveScopes(), " ") != "openid email" {
		t.Errorf("provider: %+v", p)
	}
	if got := (AuthProvider{}).EffectiveScopes(); strings.Join(got, " ") != "openid email profile" {
		t.Errorf("default scopes: %q", got)
	}
}

func TestIAMErrors(t *testing.T) {
	cases := []struct {
		name, replace, with string
		path, problem       string
	}{
		{"duplicate user", "name: bob", "name: alice", "access.iam.users[1].name", "declared more than once"},
		{"duplicate group", "name: ops", "name: readers", "access.iam.groups[1].name", "declared more than once"},
		{"unknown group", "groups: [readers, ops]", "groups: [readers, opps]", "access.iam.users[0].groups[1]", `no group named "opps"`},
		{"bad user name", "name: svc", "name: 'svc account'", "access.iam.users[2].name", "use 1-64"},
		{"key id format", "AKIABOB000000001", "akiabob000000001", "access.iam.users[1].access_key_id", "16-128 uppercase"},
		{"key id too short", "AKIABOB000000001", "AKIABOB", "access.iam.users[1].access_key_id", "16-128 uppercase"},
		{"duplicate key id", "AKIABOB000000001", "AKIAALICE0000001", "access.iam.users[1].access_key_id", "already used by access.iam.users[0].access_key_id"},
		{"short secret", "bob-secret-1", "short", "access.iam.users[1].secret_access_key", "at least 8"},
		{"key without secret", "        secret_access_key: bob-secret-1\n", "", "access.iam.users[1].secret_access_key", "required when"},
		{"bad effect", "effect: Deny", "effect: deny", "access.iam.groups[1].permissions[1].effect", `"deny" is not one of Allow, Deny`},
		{"no effect", "{effect: Deny, actions", "{actions", "access.iam.groups[1].permissions[1].effect", "required"},
		{"bad action", "actions: [write]", "actions: [upload]", "access.iam.users[1].permissions[0].actions[0]", `"upload" is not one of read, write`},
		{"no actions", "actions: [write]", "actions: []", "access.iam.users[1].permissions[0].actions", "at least one"},
		{"no resources", `resources: ["uploads/bob/*"]`, "resources: []", "access.iam.users[1].permissions[0].resources", "at least one"},
		{"star in the middle", `"uploads/bob/*"`, `"uploads/*/bob"`, "access.iam.users[1].permissions[0].resources[0]", "only allowed at the end"},
		{"leading slash", `"uploads/bob/*"`, `"/uploads"`, "access.iam.users[1].permissions[0].resources[0]", "must start with a bucket"},
		{"empty resource", `"backups"]`, `""]`, "access.iam.groups[1].permissions[0].resources[1]", "must not be empty"},
		{"provider type", "type: oidc", "type: saml", "access.iam.auth_providers[0].type", `"saml" is not one of oidc`},
		{"provider issuer", "https://login.example.com/realms/corp", "login.example.com", "access.iam.auth_providers[0].issuer_url", "scheme must be"},
		{"provider client id", "client_id: dgp", "client_id: ''", "access.iam.auth_providers[0].client_id", "required"},
		{"provider scopes", "scopes: [openid, email]", "scopes: [email]", "access.iam.auth_providers[0].scopes", "must include openid"},
		{"gui mode with iam", "iam_mode: declarative", "iam_mode: gui", "access.iam", "only used with access.iam_mode: declarative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(validIAM, c.replace) {
				t.Fatalf("%q is not in the base document", c.replace)
			}
			doc := strings.Replace(validIAM, c.replace, c.with, 1)
			list := parseErrors(t, doc, nil)
			if !hasError(list, c.path, c.problem) {
				t.Errorf("want %s: ...%s...; got:\n%s", c.path, c.problem, strings.Join(lines(list), "\n"))
			}
		})
	}
}

func TestDeclarativeNeedsUsers(t *testing.T) {
	list := parseErrors(t, "access:\n  iam_mode: declarative\n", nil)
	if !hasError(list, "access.iam.users", "iam_allow_empty") {
		t.Errorf("got %q", lines(list))
	}
	mustParse(t, "access:\n  iam_mode: declarative\n  iam_allow_empty: true\n", nil)
	mustParse(t, "", map[string]string{"DGP_IAM_MODE": "declarative", "DGP_IAM_ALLOW_EMPTY": "true"})
}

func TestAccessAndAdvancedErrors(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		path    string
		problem string
	}{
		{"root secret without key", map[string]string{"DGP_SECRET_ACCESS_KEY": "abcdefgh"}, "access.access_key_id", "required when"},
		{"root key format", map[string]string{"DGP_ACCESS_KEY_ID": "a/b", "DGP_SECRET_ACCESS_KEY": "abcdefgh"}, "access.access_key_id", "3-128"},
		{"root secret short", map[string]string{"DGP_ACCESS_KEY_ID": "root", "DGP_SECRET_ACCESS_KEY": "abc"}, "access.secret_access_key", "at least 8"},
		{"password and hash", map[string]string{"DGP_BOOTSTRAP_PASSWORD": "long enough", "DGP_BOOTSTRAP_PASSWORD_HASH": testBcrypt}, "access.bootstrap_password_hash", "not both"},
		{"password short", map[string]string{"DGP_BOOTSTRAP_PASSWORD": "short"}, "access.bootstrap_password", "at least 8"},
		{"hash not bcrypt", map[string]string{"DGP_BOOTSTRAP_PASSWORD_HASH": "$1$abc"}, "access.bootstrap_password_hash", "not a bcrypt hash"},
		{"session ttl short", map[string]string{"DGP_SESSION_TTL": "30s"}, "access.session_ttl", "at least 1m"},
		{"rate limit negative", map[string]string{"DGP_LOGIN_RATE_LIMIT": "-1"}, "access.login_rate_limit", "0 (no limit) or more"},
		{"listen addr no port", map[string]string{"DGP_LISTEN_ADDR": "localhost"}, "advanced.listen_addr", "not host:port"},
		{"listen addr bad port", map[string]string{"DGP_LISTEN_ADDR": ":http"}, "advanced.listen_addr", "out of range"},
		{"listen addr bad host", map[string]string{"DGP_LISTEN_ADDR": "bad_host:9000"}, "advanced.listen_addr", "not an IP address or host name"},
		{"data dir empty", map[string]string{"DGP_DATA_DIR": " "}, "advanced.data_dir", "must not be empty"},
		{"tls key without cert", map[string]string{"DGP_TLS_KEY_FILE": "k.pem"}, "advanced.tls.cert_file", "required when"},
		{"domain with scheme", map[string]string{"DGP_VIRTUAL_HOST_DOMAINS": "ok.example.com,https://s3.example.com"}, "advanced.virtual_host_domains[1]", "not a DNS name"},
		{"domain with port", map[string]string{"DGP_VIRTUAL_HOST_DOMAINS": "s3.example.com:9000"}, "advanced.virtual_host_domains[0]", "not a DNS name"},
		{"shutdown zero", map[string]string{"DGP_SHUTDOWN_TIMEOUT": "0s"}, "advanced.shutdown_timeout", "more than 0"},
		{"header bytes small", map[string]string{"DGP_MAX_HEADER_BYTES": "100"}, "advanced.max_header_bytes", "between"},
		{"node id", map[string]string{"DGP_NODE_ID": "node 1"}, "advanced.node_id", "1-64"},
		{"sync bucket name", map[string]string{"DGP_CONFIG_SYNC_BUCKET": "IAM"}, "advanced.config_sync_bucket", "not a valid bucket name"},
		{"sync key leading slash", map[string]string{"DGP_CONFIG_SYNC_KEY": "/config.db"}, "advanced.config_sync_object_key", "must not start with '/'"},
		{"poll negative", map[string]string{"DGP_CONFIG_SYNC_POLL_INTERVAL": "-5m"}, "advanced.config_sync_poll_interval", "at least 1s"},
		{"reader without bucket", map[string]string{"DGP_CONFIG_SYNC_ROLE": "reader"}, "advanced.config_sync_role", "needs advanced.config_sync_bucket"},
		{"writer url", map[string]string{"DGP_CONFIG_SYNC_WRITER_URL": "dgp-writer:9000"}, "advanced.config_sync_writer_url", "scheme must be"},
		{"write schema too new", map[string]string{"DGP_CONFIG_SYNC_WRITE_SCHEMA": "99"}, "advanced.config_sync_write_schema", "the schemas this binary writes"},
		{"write schema negative", map[string]string{"DGP_CONFIG_SYNC_WRITE_SCHEMA": "-1"}, "advanced.config_sync_write_schema", "must be 0"},
		{"sync s3 endpoint", map[string]string{"DGP_CONFIG_SYNC_S3_ENDPOINT": "s3.example.com"}, "advanced.config_sync_s3.endpoint", "scheme must be"},
		{"sync s3 half keys", map[string]string{"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID": "k"}, "advanced.config_sync_s3.secret_access_key", "required when"},
		{"nats url scheme", map[string]string{"DGP_CONFIG_SYNC_NATS_URL": "nats://a:4222, http://b:4222"}, "advanced.config_sync_nats.url", `"http://b:4222": the scheme must be`},
		{"nats subject", map[string]string{"DGP_CONFIG_SYNC_NATS_SUBJECT": "a..b"}, "advanced.config_sync_nats.subject", "empty token"},
		{"nats stream", map[string]string{"DGP_CONFIG_SYNC_NATS_STREAM": "a.b"}, "advanced.config_sync_nats.stream", "must not contain"},
		{"nats two auth methods", map[string]string{"DGP_CONFIG_SYNC_NATS_TOKEN": "t0ken", "DGP_CONFIG_SYNC_NATS_CREDENTIALS": "x.creds"}, "advanced.config_sync_nats.token", "one way to authenticate"},
		{"nats password without user", map[string]string{"DGP_CONFIG_SYNC_NATS_PASSWORD": "pw"}, "advanced.config_sync_nats.user", "required when"},
		{"nats tls half", map[string]string{"DGP_CONFIG_SYNC_NATS_TLS_KEY_FILE": "k.pem"}, "advanced.config_sync_nats.tls.cert_file", "required when"},
		{"sqs queue url", map[string]string{"DGP_CONFIG_SYNC_SQS_QUEUE_URL": "dgp-queue"}, "advanced.config_sync_sqs.queue_url", "scheme must be"},
		{"sqs endpoint port", map[string]string{"DGP_CONFIG_SYNC_SQS_ENDPOINT": "http://127.0.0.1:123456"}, "advanced.config_sync_sqs.endpoint", "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list := parseErrors(t, "", c.env)
			if !hasError(list, c.path, c.problem) {
				t.Errorf("want %s: ...%s...; got:\n%s", c.path, c.problem, strings.Join(lines(list), "\n"))
			}
		})
	}
}

func TestValidateOnCodeBuiltConfig(t *testing.T) {
	cfg := Default()
	cfg.Advanced.ConfigSyncRole = "boss"
	cfg.Advanced.LogLevel = "loud"
	err := cfg.Validate()
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != 2 {
		t.Fatalf("got %v, want two errors", err)
	}
	for _, fe := range errs.List {
		if fe.Env != "" {
			t.Errorf("%v names an environment variable for a value set in code", fe)
		}
	}
}

func TestGoodSyncSetups(t *testing.T) {
	// The seed guide's fleet: a writer and readers sharing one sync bucket.
	writer := map[string]string{
		"DGP_CONFIG_SYNC_BUCKET": "dgp-iam-sync", "DGP_BOOTSTRAP_PASSWORD": "fleet password",
		"DGP_STORAGE_S3": "http://127.0.0.1:9000", "DGP_STORAGE_ACCESS_KEY_ID": "minioadmin",
		"DGP_STORAGE_SECRET_ACCESS_KEY": "minioadmin", "DGP_STORAGE_FORCE_PATH_STYLE": "true",
		"DGP_CONFIG_SYNC_NATS_URL": "nats://127.0.0.1:4222", "DGP_CONFIG_SYNC_NATS_STREAM": "MINIO",
	}
	cfg := mustParse(t, "", writer)
	if !cfg.SyncEnabled() || cfg.Advanced.ConfigSyncRole != SyncRoleWriter {
		t.Errorf("writer: %+v", cfg.Advanced)
	}
	reader := map[string]string{"DGP_CONFIG_SYNC_ROLE": "reader", "DGP_CONFIG_SYNC_WRITER_URL": "https://dgp-writer:9000"}
	for k, v := range writer {
		reader[k] = v
	}
	cfg = mustParse(t, "", reader)
	if cfg.Advanced.ConfigSyncRole != SyncRoleReader || cfg.Advanced.ConfigSyncWriterURL != "https://dgp-writer:9000" {
		t.Errorf("reader: %+v", cfg.Advanced)
	}
	// Several NATS servers, TLS listener, AWS SQS.
	mustParse(t, `
advanced:
  tls: {cert_file: c.pem, key_file: k.pem}
  config_sync_bucket: dgp-iam-sync
  config_sync_poll_interval: 0
  config_sync_nats:
    url: "nats://a:4222,tls://b:4222"
    credentials: /etc/dgp.creds
    tls: {ca_file: ca.pem}
  config_sync_sqs:
    queue_url: https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-1
    region: eu-west-1
`, nil)
}
