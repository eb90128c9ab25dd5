package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Backends returns the storage backends in one form, whichever way they
// were configured: storage.filesystem or storage.s3 give one backend named
// "default", storage.backends is returned as is, and nothing at all gives
// the embedded default, a filesystem backend named "default" at
// <data_dir>/objects. The result is a copy.
func (c *Config) Backends() []BackendConfig {
	s := &c.Storage
	switch {
	case len(s.Backends) > 0:
		return slices.Clone(s.Backends)
	case s.S3 != "":
		return []BackendConfig{{
			Name: DefaultBackendName,
			Type: BackendS3,
			S3Settings: S3Settings{
				Endpoint:        s.S3,
				Region:          s.Region,
				AccessKeyID:     s.AccessKeyID,
				SecretAccessKey: s.SecretAccessKey,
				ForcePathStyle:  s.ForcePathStyle,
			},
		}}
	case s.Filesystem != "":
		return []BackendConfig{{Name: DefaultBackendName, Type: BackendFilesystem, Path: s.Filesystem}}
	}
	return []BackendConfig{{
		Name: DefaultBackendName,
		Type: BackendFilesystem,
		Path: filepath.Join(c.Advanced.DataDir, "objects"),
	}}
}

// DefaultBackend returns the name of the backend serving buckets that have
// no route: storage.default_backend, else the first backend.
func (c *Config) DefaultBackend() string {
	if c.Storage.DefaultBackend != "" {
		return c.Storage.DefaultBackend
	}
	return c.Backends()[0].Name
}

// Backend returns the backend called name.
func (c *Config) Backend(name string) (BackendConfig, bool) {
	for _, b := range c.Backends() {
		if b.Name == name {
			return b, true
		}
	}
	return BackendConfig{}, false
}

// SyncS3 returns how to reach the config sync bucket: the
// advanced.config_sync_s3 settings when any of them is set, else the
// default backend's settings when that backend is S3, else empty settings
// (AWS with the default credential chain).
func (c *Config) SyncS3() S3Settings {
	if c.Advanced.ConfigSyncS3 != (S3Settings{}) {
		return c.Advanced.ConfigSyncS3
	}
	if b, ok := c.Backend(c.DefaultBackend()); ok && b.Type == BackendS3 {
		return b.S3Settings
	}
	return S3Settings{}
}

func (c *Config) validateStorage(v *collector) {
	s := &c.Storage
	var forms []string
	if s.Filesystem != "" {
		forms = append(forms, "storage.filesystem")
	}
	if s.S3 != "" {
		forms = append(forms, "storage.s3")
	}
	if len(s.Backends) > 0 {
		forms = append(forms, "storage.backends")
	}
	if len(forms) > 1 {
		for _, f := range forms {
			v.add(f, "set only one of storage.filesystem, storage.s3 and storage.backends (also set: "+
				strings.Join(slices.DeleteFunc(slices.Clone(forms), func(o string) bool { return o == f }), ", ")+")")
		}
	}
	if s.S3 != "" {
		checkURL(v, "storage.s3", s.S3, "http", "https")
		checkS3Keys(v, "storage.", s.AccessKeyID, s.SecretAccessKey)
	} else {
		for _, k := range []struct {
			path string
			set  bool
		}{
			{"storage.region", s.Region != ""},
			{"storage.access_key_id", s.AccessKeyID != ""},
			{"storage.secret_access_key", s.SecretAccessKey != ""},
			{"storage.force_path_style", s.ForcePathStyle},
		} {
			if k.set {
				v.add(k.path, "only used with storage.s3 (for storage.backends, set it on the backend)")
			}
		}
	}

	names := map[string]bool{}
	for i, b := range s.Backends {
		p := fmt.Sprintf("storage.backends[%d]", i)
		if checkName(v, p+".name", b.Name) {
			if names[b.Name] {
				v.add(p+".name", fmt.Sprintf("backend %s is declared more than once", strconv.Quote(b.Name)))
			}
			names[b.Name] = true
		}
		switch b.Type {
		case BackendFilesystem:
			if strings.TrimSpace(b.Path) == "" {
				v.add(p+".path", "required for a filesystem backend")
			}
			if b.S3Settings != (S3Settings{}) {
				v.add(p, "endpoint, region, access_key_id, secret_access_key and force_path_style are only used by s3 backends")
			}
		case BackendS3:
			if b.Path != "" {
				v.add(p+".path", "only used by filesystem backends")
			}
			if b.Endpoint != "" {
				checkURL(v, p+".endpoint", b.Endpoint, "http", "https")
			}
			checkS3Keys(v, p+".", b.AccessKeyID, b.SecretAccessKey)
		case "":
			v.add(p+".type", "required (filesystem or s3)")
		default:
			oneOf(v, p+".type", b.Type, BackendFilesystem, BackendS3)
		}
	}

	backends := c.Backends()
	exists := func(name string) bool {
		return slices.ContainsFunc(backends, func(b BackendConfig) bool { return b.Name == name })
	}
	if s.DefaultBackend != "" && !exists(s.DefaultBackend) {
		v.add("storage.default_backend", fmt.Sprintf("no backend named %s", strconv.Quote(s.DefaultBackend)))
	}

	buckets := make([]string, 0, len(s.Buckets))
	for name := range s.Buckets {
		buckets = append(buckets, name)
	}
	sort.Strings(buckets)
	targets := map[[2]string]string{}
	for _, name := range buckets {
		route := s.Buckets[name]
		p := joinPath("storage.buckets", name)
		if problem := bucketNameProblem(name); problem != "" {
			v.add(p, problem)
		}
		backend := route.Backend
		if backend == "" {
			backend = c.DefaultBackend()
		} else if !exists(backend) {
			v.add(p+".backend", fmt.Sprintf("no backend named %s", strconv.Quote(backend)))
		}
		target := name
		if route.Alias != "" {
			target = route.Alias
			if problem := bucketNameProblem(route.Alias); problem != "" {
				v.add(p+".alias", problem)
			}
		}
		key := [2]string{backend, target}
		if other, dup := targets[key]; dup {
			v.add(p, fmt.Sprintf("routes to the same backend bucket as storage.buckets.%s (%s on %s)", other, target, backend))
		} else {
			targets[key] = name
		}
	}
}

// checkS3Keys reports a key id without its secret or the reverse; prefix
// is the path of the object holding access_key_id and secret_access_key.
func checkS3Keys(v *collector, prefix, id, secret string) {
	pair(v, prefix+"access_key_id", id, prefix+"secret_access_key", secret)
}
