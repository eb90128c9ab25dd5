package checks

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads docker-compose.yml with the compose-spec loader, as
// `docker compose` does: schema validation, interpolation (of an empty
// environment: the defaults in the file apply), env_file resolution.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("dgp", true) })
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func envOf(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	c := loadContract(t)
	root := repoRoot(t)
	svc := func(name string) types.ServiceConfig {
		t.Helper()
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		return s
	}
	minio, nats, initSvc := svc("minio"), svc("nats"), svc("minio-init")
	fleet := []struct {
		name, role string
		port       string
	}{
		{"dgp-writer", "writer", "9001"},
		{"dgp-reader-1", "reader", "9002"},
		{"dgp-reader-2", "reader", "9003"},
	}

	// Pinned images.
	for _, s := range []types.ServiceConfig{minio, nats, initSvc} {
		if !regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+$`).MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("%s: image %q is not pinned to a tag", s.Name, s.Image)
		}
	}
	if !strings.HasPrefix(initSvc.Image, "minio/mc:") {
		t.Errorf("minio-init runs %s, want minio/mc", initSvc.Image)
	}

	// NATS with JetStream; MinIO's NATS target (every key with its _PRIMARY suffix).
	if !containsArg(nats.Command, "-js") {
		t.Errorf("nats command %v lacks -js", nats.Command)
	}
	menv := envOf(minio)
	if menv["MINIO_NOTIFY_NATS_ENABLE_PRIMARY"] != "on" || menv["MINIO_NOTIFY_NATS_ADDRESS_PRIMARY"] != "nats:4222" {
		t.Errorf("MinIO's NATS target: %v", menv)
	}
	subject := menv["MINIO_NOTIFY_NATS_SUBJECT_PRIMARY"]

	// The one-shot init: both buckets and the rule for exactly the config key.
	w := envOf(svc("dgp-writer"))
	bucket, key := w["DGP_CONFIG_SYNC_BUCKET"], w["DGP_CONFIG_SYNC_KEY"]
	if bucket == "" || key != c.defaults["advanced.config_sync_object_key"] {
		t.Errorf("sync bucket %q key %q", bucket, key)
	}
	script := strings.Join(initSvc.Command, " ")
	for _, want := range []string{
		"mc mb --ignore-existing local/" + bucket,
		"mc event add --ignore-existing local/" + bucket + " arn:minio:sqs::PRIMARY:nats --event put --prefix " + key,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("minio-init does not run %q:\n%s", want, script)
		}
	}
	if regexp.MustCompile(`mc mb --ignore-existing local/\S+`).FindAllString(script, -1) == nil || len(regexp.MustCompile(`mc mb `).FindAllString(script, -1)) < 2 {
		t.Errorf("minio-init should make the sync bucket and a data bucket:\n%s", script)
	}
	if strings.Contains(script, "--suffix") {
		t.Error("a --suffix next to the whole key as --prefix: MinIO joins them into one pattern (prefix*suffix) that the key does not match")
	}
	if d, ok := initSvc.DependsOn["minio"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("minio-init must wait for a healthy minio: %+v", initSvc.DependsOn)
	}

	// The three dgp instances.
	image := ""
	volumes := map[string]string{}
	var password string
	for i, f := range fleet {
		s := svc(f.name)
		env := envOf(s)
		c.checkEnvNames(t, f.name, keys(env))

		// One shared env file holds the password.
		if len(s.EnvFiles) == 0 || s.EnvFiles[0].Path != filepath.Join(root, "infra", "compose", "dgp.env") || !s.EnvFiles[0].Required {
			t.Errorf("%s: env files %+v, want infra/compose/dgp.env first", f.name, s.EnvFiles)
		}
		if len(env["DGP_BOOTSTRAP_PASSWORD"]) < 8 {
			t.Errorf("%s: no bootstrap password of 8+ characters", f.name)
		}
		if i == 0 {
			password = env["DGP_BOOTSTRAP_PASSWORD"]
		} else if env["DGP_BOOTSTRAP_PASSWORD"] != password {
			t.Errorf("%s: another bootstrap password than the writer's", f.name)
		}

		// Sync bucket and storage on MinIO, events from NATS.
		want := map[string]string{
			"DGP_CONFIG_SYNC_BUCKET":              bucket,
			"DGP_CONFIG_SYNC_S3_ENDPOINT":         "http://minio:9000",
			"DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE": "true",
			"DGP_CONFIG_SYNC_NATS_URL":            "nats://nats:4222",
			"DGP_CONFIG_SYNC_NATS_SUBJECT":        subject,
			"DGP_STORAGE_S3":                      "http://minio:9000",
			"DGP_STORAGE_FORCE_PATH_STYLE":        "true",
			"DGP_CONFIG_SYNC_ROLE":                f.role,
			"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID":    menv["MINIO_ROOT_USER"],
			"DGP_STORAGE_SECRET_ACCESS_KEY":       menv["MINIO_ROOT_PASSWORD"],
		}
		for k, v := range want {
			if env[k] != v || v == "" {
				t.Errorf("%s: %s = %q, want %q", f.name, k, env[k], v)
			}
		}
		if f.role == "reader" && env["DGP_CONFIG_SYNC_WRITER_URL"] != "http://127.0.0.1:"+fleet[0].port {
			t.Errorf("%s: writer URL %q", f.name, env["DGP_CONFIG_SYNC_WRITER_URL"])
		}

		// Host port 9001-9003 -> 9000 on 127.0.0.1.
		if len(s.Ports) != 1 || s.Ports[0].Published != f.port || s.Ports[0].Target != 9000 || s.Ports[0].HostIP != "127.0.0.1" {
			t.Errorf("%s: ports %+v, want 127.0.0.1:%s->9000", f.name, s.Ports, f.port)
		}

		// Its own named volume at /data.
		if len(s.Volumes) != 1 || s.Volumes[0].Target != "/data" || s.Volumes[0].Type != types.VolumeTypeVolume {
			t.Errorf("%s: volumes %+v, want one named volume at /data", f.name, s.Volumes)
		} else {
			src := s.Volumes[0].Source
			if other, dup := volumes[src]; dup {
				t.Errorf("%s shares volume %s with %s", f.name, src, other)
			}
			volumes[src] = f.name
			if _, ok := p.Volumes[src]; !ok {
				t.Errorf("volume %s is not declared", src)
			}
		}

		// A health check that runs the image's helper (exec form: no shell).
		hc := s.HealthCheck
		if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/dgp-healthcheck" || hc.Interval == nil {
			t.Errorf("%s: healthcheck %+v", f.name, hc)
		}

		// One image, built once from the Dockerfile.
		if image == "" {
			image = s.Image
			if s.Build == nil || s.Build.Dockerfile != "infra/docker/Dockerfile" {
				t.Errorf("%s: build %+v", f.name, s.Build)
			}
			if d := s.DependsOn["minio-init"]; d.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("%s must wait for minio-init: %+v", f.name, s.DependsOn)
			}
		} else {
			if s.Image != image || s.PullPolicy != types.PullPolicyNever {
				t.Errorf("%s: image %s pull %s, want the writer's %s, never pulled", f.name, s.Image, s.PullPolicy, image)
			}
			if d := s.DependsOn["dgp-writer"]; d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s must wait for a healthy writer: %+v", f.name, s.DependsOn)
			}
		}
	}
	// The health check program is the one the Dockerfile installs.
	if !strings.Contains(readFile(t, filepath.Join(root, "infra", "docker", "Dockerfile")), "/usr/local/bin/dgp-healthcheck") {
		t.Error("the Dockerfile does not install /usr/local/bin/dgp-healthcheck")
	}
	// .env.example sets only what compose or dgp reads.
	for _, l := range strings.Split(readFile(t, filepath.Join(root, ".env.example")), "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if !c.env[name] && name != "MINIO_ROOT_USER" && name != "MINIO_ROOT_PASSWORD" {
			t.Errorf(".env.example sets %s, which nothing reads", name)
		}
	}
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}
