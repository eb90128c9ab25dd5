package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fill sets every field reachable from v to a non-zero value: strings to
// "v:<path>", lists and maps to two entries, so that nothing is skipped.
func fill(v reflect.Value, path string) {
	switch {
	case v.Type() == durationType:
		v.SetInt(int64(7 * time.Second))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v:" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.ValueOf(fmt.Sprintf("k%d", i))
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, fmt.Sprintf("%s[%s]", path, k))
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}

func filled() *Config {
	c := &Config{}
	fill(reflect.ValueOf(c).Elem(), "Config")
	return c
}

// isSecretName is the test's own idea of a secret, by Go field name.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "secret") || strings.Contains(n, "password") || strings.Contains(n, "token")
}

// compareRedacted walks orig and red in parallel and checks that every
// string field with a secret-looking name is redacted and every other
// value is copied unchanged. It returns how many secrets it checked.
func compareRedacted(t *testing.T, orig, red reflect.Value, path string, secret bool) int {
	t.Helper()
	switch orig.Kind() {
	case reflect.String:
		want := orig.String()
		if secret && want != "" {
			want = Redaction
		}
		if red.String() != want {
			t.Errorf("%s: redacted copy has %q, want %q", path, red.String(), want)
		}
		if secret {
			return 1
		}
	case reflect.Pointer:
		if orig.IsNil() != red.IsNil() {
			t.Errorf("%s: nil-ness differs", path)
			return 0
		}
		if !orig.IsNil() {
			if orig.Pointer() == red.Pointer() {
				t.Errorf("%s: pointer shared with the original", path)
			}
			return compareRedacted(t, orig.Elem(), red.Elem(), path, secret)
		}
	case reflect.Struct:
		n := 0
		for i := range orig.NumField() {
			f := orig.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			n += compareRedacted(t, orig.Field(i), red.Field(i), path+"."+f.Name, isSecretName(f.Name))
		}
		return n
	case reflect.Slice:
		if orig.Len() != red.Len() {
			t.Errorf("%s: length differs", path)
			return 0
		}
		if orig.Len() > 0 && orig.Pointer() == red.Pointer() {
			t.Errorf("%s: slice shared with the original", path)
		}
		n := 0
		for i := range orig.Len() {
			n += compareRedacted(t, orig.Index(i), red.Index(i), fmt.Sprintf("%s[%d]", path, i), secret)
		}
		return n
	case reflect.Map:
		if orig.Len() != red.Len() {
			t.Errorf("%s: length differs", path)
			return 0
		}
		if orig.Pointer() == red.Pointer() {
			t.Errorf("%s: map shared with the original", path)
		}
		n := 0
		for _, k := range orig.MapKeys() {
			n += compareRedacted(t, orig.MapIndex(k), red.MapIndex(k), fmt.Sprintf("%s[%v]", path, k), secret)
		}
		return n
	default:
		if !reflect.DeepEqual(orig.Interface(), red.Interface()) {
			t.Errorf("%s: got %v, want %v", path, red.Interface(), orig.Interface())
		}
	}
	return 0
}

func TestRedactedHidesEverySecret(t *testing.T) {
	orig := filled()
	red := orig.Redacted()
	n := compareRedacted(t, reflect.ValueOf(orig).Elem(), reflect.ValueOf(red).Elem(), "Config", false)
	// access: 3, iam users 2x1, providers 2x1, storage 1, backends 2x1,
	// sync s3 1, nats token + password 2.
	if n != 13 {
		t.Errorf("checked %d secret fields, want 13 (did the struct change?)", n)
	}
	if !reflect.DeepEqual(orig, filled()) {
		t.Errorf("Redacted changed the original")
	}

	out, err := red.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "v:") && isSecretName(strings.ReplaceAll(line, "_", "")) {
			t.Errorf("printed config shows a secret: %s", line)
		}
	}
	if !strings.Contains(string(out), Redaction) {
		t.Errorf("printed config has no %s marker", Redaction)
	}

	// Unset secrets stay empty, so the printout tells set from unset.
	if r := Default().Redacted(); r.Access.SecretAccessKey != "" || r.Advanced.ConfigSyncNATS.Token != "" {
		t.Errorf("an unset secret was printed as set")
	}
}

func TestRedactedFromEnv(t *testing.T) {
	cfg := mustParse(t, "", map[string]string{
		"DGP_BOOTSTRAP_PASSWORD":               "fleet-password-1",
		"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID":     "synckey",
		"DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY": "sync-secret-2",
		"DGP_CONFIG_SYNC_BUCKET":               "dgp-iam-sync",
	})
	out, err := cfg.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"fleet-password-1", "sync-secret-2"} {
		if strings.Contains(string(out), s) {
			t.Errorf("printed config shows %q:\n%s", s, out)
		}
	}
	if !strings.Contains(string(out), "synckey") {
		t.Errorf("a non-secret went missing:\n%s", out)
	}
}

func TestClone(t *testing.T) {
	orig := filled()
	c := orig.Clone()
	if !reflect.DeepEqual(orig, c) {
		t.Fatalf("clone differs")
	}
	c.Access.IAM.Users[0].Groups[0] = "changed"
	*c.Access.IAM.Users[0].Enabled = false
	c.Storage.Buckets["k0"] = BucketRoute{Backend: "changed"}
	if !reflect.DeepEqual(orig, filled()) {
		t.Errorf("changing the clone changed the original")
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	doc := validIAM + `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:9000", access_key_id: k, secret_access_key: secretkey, force_path_style: true}
  default_backend: minio
  buckets:
    photos: {backend: local, alias: prod-photos}
advanced:
  listen_addr: 127.0.0.1:9443
  tls: {cert_file: c.pem, key_file: k.pem}
  virtual_host_domains: [s3.example.com]
  config_sync_bucket: dgp-iam-sync
  config_sync_poll_interval: 90s
  config_sync_role: reader
  config_sync_writer_url: https://writer:9000
  config_sync_nats: {url: "nats://127.0.0.1:4222", stream: MINIO}
`
	cfg := mustParse(t, doc, map[string]string{"DGP_LOG_LEVEL": "debug"})
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again := mustParse(t, string(out), nil)
	cfg.origin, again.origin = nil, nil
	if !reflect.DeepEqual(cfg, again) {
		t.Errorf("round trip changed the config:\n%s", out)
	}
}

func TestPrintedConfigIsRefusedAsInput(t *testing.T) {
	doc := validIAM + `
storage:
  s3: http://127.0.0.1:9000
  access_key_id: minio
  secret_access_key: minio-secret
`
	out, err := mustParse(t, doc, nil).Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	list := parseErrors(t, string(out), nil)
	want := []string{
		"access.iam.users[0].secret_access_key",
		"access.iam.users[1].secret_access_key",
		"access.iam.auth_providers[0].client_secret",
		"storage.secret_access_key",
	}
	var got []string
	for _, fe := range list {
		if strings.Contains(fe.Problem, "placeholder") {
			got = append(got, fe.Path)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("placeholder errors at %q, want %q; all errors:\n%s", got, want, strings.Join(lines(list), "\n"))
	}
}
