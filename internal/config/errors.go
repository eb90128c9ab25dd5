package config

import "strings"

// FieldError is one problem with one key. Problem never contains a secret.
type FieldError struct {
	// Path is the key's YAML path, e.g. "advanced.config_sync_role" or
	// "access.iam.users[2].groups[0]"; empty for the file as a whole.
	Path string
	// Env is the environment variable the value came from, if it did.
	Env string
	// Problem says what is wrong.
	Problem string
}

// Error renders "path (ENV): problem".
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
	} else {
		b.WriteString("config")
	}
	if e.Env != "" {
		b.WriteString(" (")
		b.WriteString(e.Env)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Errors is every problem found in a configuration, reported together.
type Errors struct {
	List []FieldError
}

// Error renders one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, fe := range e.List {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// collector gathers FieldErrors, naming the environment variable of values
// that came from the environment.
type collector struct {
	origin map[string]string
	list   []FieldError
}

// add records a problem with the key at path.
func (c *collector) add(path, problem string) {
	c.list = append(c.list, FieldError{Path: path, Env: c.origin[path], Problem: problem})
}

// addEnv records a problem with a value read from the environment variable
// env (used while reading the environment, before origin is complete).
func (c *collector) addEnv(path, env, problem string) {
	c.list = append(c.list, FieldError{Path: path, Env: env, Problem: problem})
}

// err returns the collected problems as *Errors, or nil when there are none.
func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	return &Errors{List: append([]FieldError(nil), c.list...)}
}
