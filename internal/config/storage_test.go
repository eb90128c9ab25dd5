package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStorageForms(t *testing.T) {
	cases := []struct {
		name        string
		doc         string
		env         map[string]string
		want        []BackendConfig
		wantDefault string
	}{
		{
			name: "nothing: embedded default under the data dir",
			env:  map[string]string{"DGP_DATA_DIR": "/var/lib/dgp"},
			want: []BackendConfig{{Name: "default", Type: "filesystem", Path: filepath.Join("/var/lib/dgp", "objects")}},
		},
		{
			name: "filesystem",
			doc:  "storage:\n  filesystem: ./objects\n",
			want: []BackendConfig{{Name: "default", Type: "filesystem", Path: "./objects"}},
		},
		{
			name: "s3 from env",
			env: map[string]string{
				"DGP_STORAGE_S3": "http://127.0.0.1:9000", "DGP_STORAGE_REGION": "us-east-1",
				"DGP_STORAGE_ACCESS_KEY_ID": "minioadmin", "DGP_STORAGE_SECRET_ACCESS_KEY": "minioadmin",
				"DGP_STORAGE_FORCE_PATH_STYLE": "true",
			},
			want: []BackendConfig{{Name: "default", Type: "s3", S3Settings: S3Settings{
				Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
				AccessKeyID: "minioadmin", SecretAccessKey: "minioadmin", ForcePathStyle: true,
			}}},
		},
		{
			name: "backends with a default",
			doc: `
storage:
  backends:
    - name: local
      type: filesystem
      path: /srv/objects
    - name: aws
      type: s3
      region: eu-west-1
  default_backend: aws
`,
			want: []BackendConfig{
				{Name: "local", Type: "filesystem", Path: "/srv/objects"},
				{Name: "aws", Type: "s3", S3Settings: S3Settings{Region: "eu-west-1"}},
			},
			wantDefault: "aws",
		},
		{
			name: "backends: the first is the default",
			doc:  "storage:\n  backends:\n    - {name: one, type: filesystem, path: /1}\n    - {name: two, type: filesystem, path: /2}\n",
			want: []BackendConfig{
				{Name: "one", Type: "filesystem", Path: "/1"},
				{Name: "two", Type: "filesystem", Path: "/2"},
			},
			wantDefault: "one",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustParse(t, c.doc, c.env)
			got := cfg.Backends()
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Backends():\n got %+v\nwant %+v", got, c.want)
			}
			wantDefault := c.wantDefault
			if wantDefault == "" {
				wantDefault = "default"
			}
			if d := cfg.DefaultBackend(); d != wantDefault {
				t.Errorf("DefaultBackend() = %q, want %q", d, wantDefault)
			}
			if _, ok := cfg.Backend(wantDefault); !ok {
				t.Errorf("Backend(%q) not found", wantDefault)
			}
			got[0].Name = "changed"
			if cfg.Backends()[0].Name == "changed" {
				t.Errorf("Backends() shares memory with the config")
			}
		})
	}
}

func TestStorageRoutes(t *testing.T) {
	doc := `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:9000", access_key_id: k, secret_access_key: secretkey, force_path_style: true}
  default_backend: local
  buckets:
    photos: {backend: minio, alias: prod-photos}
    logs: {}
`
	cfg := mustParse(t, doc, nil)
	if r := cfg.Storage.Buckets["photos"]; r.Backend != "minio" || r.Alias != "prod-photos" {
		t.Errorf("photos route: %+v", r)
	}
	if _, ok := cfg.Storage.Buckets["logs"]; !ok {
		t.Errorf("logs route missing")
	}
}

func TestStorageErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		env       map[string]string
		path      string
		problem   string
	}{
		{"two forms, one from env", "storage:\n  filesystem: /a\n", map[string]string{"DGP_STORAGE_S3": "http://h:9000"}, "storage.s3", "set only one of"},
		{"s3 siblings without s3", "storage:\n  region: eu-west-1\n", nil, "storage.region", "only used with storage.s3"},
		{"s3 siblings without s3 (bool)", "storage:\n  filesystem: /a\n  force_path_style: true\n", nil, "storage.force_path_style", "only used with storage.s3"},
		{"s3 not a URL", "storage:\n  s3: minio:9000\n", nil, "storage.s3", "scheme must be"},
		{"s3 no host", "storage:\n  s3: \"http://:9000\"\n", nil, "storage.s3", "has no host"},
		{"s3 key without secret", "storage:\n  s3: http://h:1\n  access_key_id: k\n", nil, "storage.secret_access_key", "required when"},
		{"backend without name", "storage:\n  backends:\n    - {type: filesystem, path: /a}\n", nil, "storage.backends[0].name", "required"},
		{"backend bad name", "storage:\n  backends:\n    - {name: 'a b', type: filesystem, path: /a}\n", nil, "storage.backends[0].name", "use 1-64"},
		{"backend duplicate name", "storage:\n  backends:\n    - {name: a, type: filesystem, path: /a}\n    - {name: a, type: filesystem, path: /b}\n", nil, "storage.backends[1].name", "more than once"},
		{"backend bad type", "storage:\n  backends:\n    - {name: a, type: gcs}\n", nil, "storage.backends[0].type", `"gcs" is not one of filesystem, s3`},
		{"backend no type", "storage:\n  backends:\n    - {name: a, path: /a}\n", nil, "storage.backends[0].type", "required"},
		{"filesystem backend without path", "storage:\n  backends:\n    - {name: a, type: filesystem}\n", nil, "storage.backends[0].path", "required"},
		{"filesystem backend with s3 settings", "storage:\n  backends:\n    - {name: a, type: filesystem, path: /a, region: x}\n", nil, "storage.backends[0]", "only used by s3 backends"},
		{"s3 backend with path", "storage:\n  backends:\n    - {name: a, type: s3, path: /a}\n", nil, "storage.backends[0].path", "only used by filesystem"},
		{"s3 backend bad endpoint", "storage:\n  backends:\n    - {name: a, type: s3, endpoint: 'http://h:0'}\n", nil, "storage.backends[0].endpoint", "out of range"},
		{"s3 backend half keys", "storage:\n  backends:\n    - {name: a, type: s3, secret_access_key: abcdefgh}\n", nil, "storage.backends[0].access_key_id", "required when"},
		{"default backend missing", "storage:\n  backends:\n    - {name: a, type: filesystem, path: /a}\n  default_backend: b\n", nil, "storage.default_backend", `no backend named "b"`},
		{"default backend with single form", "storage:\n  filesystem: /a\n", map[string]string{"DGP_STORAGE_DEFAULT_BACKEND": "main"}, "storage.default_backend", `no backend named "main"`},
		{"route to missing backend", "storage:\n  buckets:\n    photos: {backend: nowhere}\n", nil, "storage.buckets.photos.backend", `no backend named "nowhere"`},
		{"bad bucket name", "storage:\n  buckets:\n    Photos_2024: {}\n", nil, "storage.buckets.Photos_2024", "not a valid bucket name"},
		{"bad alias", "storage:\n  buckets:\n    photos: {alias: 'x'}\n", nil, "storage.buckets.photos.alias", "3-63 characters"},
		{"two routes, one backend bucket", "storage:\n  buckets:\n    aaa: {alias: shared}\n    bbb: {alias: shared}\n", nil, "storage.buckets.bbb", "same backend bucket as storage.buckets.aaa"},
		{"alias onto another route's name", "storage:\n  buckets:\n    aaa: {}\n    bbb: {alias: aaa}\n", nil, "storage.buckets.bbb", "same backend bucket"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list := parseErrors(t, c.doc, c.env)
			if !hasError(list, c.path, c.problem) {
				t.Errorf("want %s: ...%s...; got:\n%s", c.path, c.problem, strings.Join(lines(list), "\n"))
			}
		})
	}
}

func TestBucketNames(t *testing.T) {
	good := []string{"abc", "dgp-iam-sync", "a.b.c", "123", strings.Repeat("a", 63)}
	bad := []string{"", "ab", strings.Repeat("a", 64), "ABC", "a_b", "-abc", "abc-", "a..b", "192.168.1.1", "a b"}
	for _, n := range good {
		if p := bucketNameProblem(n); p != "" {
			t.Errorf("%q: %s", n, p)
		}
	}
	for _, n := range bad {
		if bucketNameProblem(n) == "" {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestSyncS3(t *testing.T) {
	minio := S3Settings{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", AccessKeyID: "minioadmin", SecretAccessKey: "minioadmin", ForcePathStyle: true}
	cases := []struct {
		name string
		doc  string
		env  map[string]string
		want S3Settings
	}{
		{
			name: "falls back to the storage.s3 backend",
			env: map[string]string{
				"DGP_STORAGE_S3": minio.Endpoint, "DGP_STORAGE_REGION": minio.Region,
				"DGP_STORAGE_ACCESS_KEY_ID": minio.AccessKeyID, "DGP_STORAGE_SECRET_ACCESS_KEY": minio.SecretAccessKey,
				"DGP_STORAGE_FORCE_PATH_STYLE": "true", "DGP_CONFIG_SYNC_BUCKET": "dgp-iam-sync",
			},
			want: minio,
		},
		{
			name: "falls back to the default of several backends",
			doc: `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:9000", region: us-east-1, access_key_id: minioadmin, secret_access_key: minioadmin, force_path_style: true}
  default_backend: minio
advanced:
  config_sync_bucket: dgp-iam-sync
`,
			want: minio,
		},
		{
			name: "no fallback when the default backend is a filesystem",
			doc: `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:9000"}
advanced:
  config_sync_bucket: dgp-iam-sync
`,
			want: S3Settings{},
		},
		{
			name: "config_sync_s3 wins, as a whole",
			env: map[string]string{
				"DGP_STORAGE_S3": minio.Endpoint, "DGP_STORAGE_ACCESS_KEY_ID": "k", "DGP_STORAGE_SECRET_ACCESS_KEY": "storagesecret",
				"DGP_CONFIG_SYNC_BUCKET": "dgp-iam-sync", "DGP_CONFIG_SYNC_S3_REGION": "eu-central-1",
			},
			want: S3Settings{Region: "eu-central-1"},
		},
		{
			name: "config_sync_s3 from the file",
			doc: `
storage:
  filesystem: /srv
advanced:
  config_sync_bucket: dgp-iam-sync
  config_sync_s3:
    endpoint: "http://127.0.0.1:9100"
    access_key_id: sync
    secret_access_key: syncsecret
    force_path_style: true
`,
			want: S3Settings{Endpoint: "http://127.0.0.1:9100", AccessKeyID: "sync", SecretAccessKey: "syncsecret", ForcePathStyle: true},
		},
		{
			name: "embedded storage, nothing set: AWS defaults",
			env:  map[string]string{"DGP_CONFIG_SYNC_BUCKET": "dgp-iam-sync"},
			want: S3Settings{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustParse(t, c.doc, c.env)
			if got := cfg.SyncS3(); got != c.want {
				t.Errorf("SyncS3():\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
