package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Load reads the YAML file at path, overlays the environment given by
// lookup, applies the defaults and validates the result.
//
// When path is "" the file named by DGP_CONFIG is read, else ./DefaultFile;
// a missing default file is fine, a missing explicit file is an error
// (matching fs.ErrNotExist). Problems with values are reported together as
// *Errors. Warnings are for settings that are ignored or have no effect.
//
// A lookup function cannot list the variables it knows, so Load cannot warn
// about misspelt DGP_* names; LoadEnviron can.
func Load(path string, lookup func(string) (string, bool)) (*Config, []string, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if path == "" {
		if p, ok := lookup(EnvConfigFile); ok && p != "" {
			path = p
		}
	}
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
	case !explicit && errors.Is(err, fs.ErrNotExist):
		data = nil
	default:
		return nil, nil, fmt.Errorf("read config file: %w", err)
	}
	return load(path, data, lookup)
}

// LoadEnviron is Load with the environment given as "NAME=value" entries
// (os.Environ()); it also warns about every DGP_* variable that is not a
// configuration key.
func LoadEnviron(path string, environ []string) (*Config, []string, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, val, ok := strings.Cut(kv, "="); ok {
			env[name] = val
		}
	}
	cfg, warnings, err := Load(path, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	return cfg, append(unknownEnvWarnings(environ), warnings...), err
}

// Parse is Load for YAML already in memory (name is used in messages only).
func Parse(name string, data []byte, lookup func(string) (string, bool)) (*Config, []string, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return load(name, data, lookup)
}

func load(name string, data []byte, lookup func(string) (string, bool)) (*Config, []string, error) {
	cfg := Default()
	errs := &collector{}
	d := &decoder{lookup: lookup, errs: errs}
	if err := d.decodeDocument(data, cfg); err != nil {
		return nil, nil, fmt.Errorf("parse config file %s: %w", name, err)
	}
	cfg.origin = applyEnv(cfg, lookup, errs)
	errs.origin = cfg.origin

	// A key that could not be read would only produce follow-on noise in
	// validation (it holds its default or zero value): report it once.
	bad := map[string]bool{}
	for _, fe := range errs.list {
		bad[fe.Path] = true
	}
	v := &collector{origin: cfg.origin}
	cfg.validate(v)
	for _, fe := range v.list {
		if !bad[fe.Path] {
			errs.list = append(errs.list, fe)
		}
	}
	warnings := cfg.warnings()
	if err := errs.err(); err != nil {
		return nil, warnings, err
	}
	return cfg, warnings, nil
}
