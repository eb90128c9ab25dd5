package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole configuration and returns every problem at
// once as *Errors, or nil.
func (c *Config) Validate() error {
	v := &collector{origin: c.origin}
	c.validate(v)
	return v.err()
}

func (c *Config) validate(v *collector) {
	c.validateAccess(v)
	c.validateIAM(v)
	c.validateStorage(v)
	c.validateAdvanced(v)
	c.validateSync(v)
	c.validateJobs(v)
	walkSecrets(reflect.ValueOf(c).Elem(), "", func(path, val string) {
		if val == Redaction {
			v.add(path, "holds the "+Redaction+" placeholder of a printed configuration; set the real secret")
		}
	})
}

var bcryptHash = regexp.MustCompile(`^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$`)

// rootKeyID is what root access key ids may look like (looser than IAM
// users' ids, so that e.g. "minioadmin"-style names work).
var rootKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{3,128}$`)

// minSecretLen is the shortest secret key or password accepted.
const minSecretLen = 8

func (c *Config) validateAccess(v *collector) {
	a := &c.Access
	if pair(v, "access.access_key_id", a.AccessKeyID, "access.secret_access_key", a.SecretAccessKey) {
		if !rootKeyID.MatchString(a.AccessKeyID) {
			v.add("access.access_key_id", "must be 3-128 letters, digits, '.', '_' or '-'")
		}
		if len(a.SecretAccessKey) < minSecretLen {
			v.add("access.secret_access_key", fmt.Sprintf("must be at least %d characters", minSecretLen))
		}
	}
	oneOf(v, "access.iam_mode", string(a.IAMMode), string(IAMModeGUI), string(IAMModeDeclarative))
	if a.BootstrapPassword != "" && a.BootstrapPasswordHash != "" {
		v.add("access.bootstrap_password_hash", "set either access.bootstrap_password or access.bootstrap_password_hash, not both")
	}
	if a.BootstrapPassword != "" && len(a.BootstrapPassword) < minSecretLen {
		v.add("access.bootstrap_password", fmt.Sprintf("must be at least %d characters", minSecretLen))
	}
	if a.BootstrapPasswordHash != "" && !bcryptHash.MatchString(a.BootstrapPasswordHash) {
		v.add("access.bootstrap_password_hash", "is not a bcrypt hash ($2a$, $2b$ or $2y$, cost, 53 characters)")
	}
	if a.SessionTTL < time.Minute {
		v.add("access.session_ttl", "must be at least 1m")
	}
	if a.LoginRateLimit < 0 {
		v.add("access.login_rate_limit", "must be 0 (no limit) or more")
	}
	for i, r := range a.Regions {
		if problem := regionProblem(r); problem != "" {
			v.add(fmt.Sprintf("access.regions[%d]", i), problem)
		}
		if slices.Index(a.Regions, r) != i {
			v.add(fmt.Sprintf("access.regions[%d]", i), fmt.Sprintf("%q is listed twice", r))
		}
	}
}

// regionProblem says what is wrong with a region name for access.regions:
// "*", or 1-64 printable characters without '/' or spaces (a credential
// scope could not name it otherwise).
func regionProblem(r string) string {
	if r == "" || len(r) > 64 {
		return "must be 1-64 characters"
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return fmt.Sprintf("%q must be printable ASCII without '/' or spaces (\"*\" means any region)", r)
		}
	}
	return ""
}

func (c *Config) validateAdvanced(v *collector) {
	a := &c.Advanced
	checkListenAddr(v, "advanced.listen_addr", a.ListenAddr)
	if strings.TrimSpace(a.DataDir) == "" {
		v.add("advanced.data_dir", "must not be empty")
	}
	pair(v, "advanced.tls.cert_file", a.TLS.CertFile, "advanced.tls.key_file", a.TLS.KeyFile)
	for i, d := range a.VirtualHostDomains {
		if problem := hostnameProblem(d); problem != "" {
			v.add(fmt.Sprintf("advanced.virtual_host_domains[%d]", i), problem)
		}
	}
	oneOf(v, "advanced.log_level", a.LogLevel, LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError)
	oneOf(v, "advanced.log_format", a.LogFormat, LogFormatAuto, LogFormatJSON, LogFormatConsole)
	if a.ShutdownTimeout <= 0 {
		v.add("advanced.shutdown_timeout", "must be more than 0")
	}
	if a.MaxHeaderBytes < 1<<10 || a.MaxHeaderBytes > 16<<20 {
		v.add("advanced.max_header_bytes", "must be between 1024 and 16777216")
	}
	if a.NodeID != "" && !nameRE.MatchString(a.NodeID) {
		v.add("advanced.node_id", "must be 1-64 letters, digits, '.', '_' or '-'")
	}
}

// pair reports when exactly one of two keys that go together is set, and
// returns whether both are set.
func pair(v *collector, pathA, a, pathB, b string) bool {
	switch {
	case a != "" && b == "":
		v.add(pathB, fmt.Sprintf("required when %s is set", pathA))
	case a == "" && b != "":
		v.add(pathA, fmt.Sprintf("required when %s is set", pathB))
	}
	return a != "" && b != ""
}

// oneOf reports a value outside allowed.
func oneOf(v *collector, path, val string, allowed ...string) bool {
	if slices.Contains(allowed, val) {
		return true
	}
	v.add(path, fmt.Sprintf("%s is not one of %s", strconv.Quote(val), strings.Join(allowed, ", ")))
	return false
}

// nameRE is what names of users, groups, providers, backends and nodes look like.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,63}$`)

func checkName(v *collector, path, name string) bool {
	if name == "" {
		v.add(path, "required")
		return false
	}
	if !nameRE.MatchString(name) {
		v.add(path, fmt.Sprintf("%s: use 1-64 letters, digits and . _ @ + = , -, starting with a letter or digit", strconv.Quote(name)))
		return false
	}
	return true
}

// checkURL reports a value that is not an absolute URL with one of schemes,
// a host and a valid port.
func checkURL(v *collector, path, s string, schemes ...string) {
	if problem := urlProblem(s, schemes...); problem != "" {
		v.add(path, problem)
	}
}

func urlProblem(s string, schemes ...string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%s is not a URL", strconv.Quote(redactURL(s)))
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Sprintf("%s: the scheme must be %s", strconv.Quote(redactURL(s)), strings.Join(schemes, " or "))
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("%s has no host", strconv.Quote(redactURL(s)))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%s: port %s is out of range 1-65535", strconv.Quote(redactURL(s)), p)
		}
	}
	if u.User != nil {
		return fmt.Sprintf("%s: put credentials in their own keys, not in the URL", strconv.Quote(redactURL(s)))
	}
	return ""
}

// redactURL hides user info in a URL-looking string before it is quoted in
// a message.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return s[:i+3] + Redaction + rest[at:]
	}
	return s
}

func checkListenAddr(v *collector, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, fmt.Sprintf("%s is not host:port", strconv.Quote(addr)))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, fmt.Sprintf("port %s is out of range 0-65535", strconv.Quote(port)))
	}
	if host != "" && net.ParseIP(host) == nil && hostnameProblem(host) != "" {
		v.add(path, fmt.Sprintf("%s is not an IP address or host name", strconv.Quote(host)))
	}
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// hostnameProblem describes why s is not a DNS name, or returns "".
func hostnameProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > 253 {
		return "is longer than 253 characters"
	}
	for label := range strings.SplitSeq(s, ".") {
		if !hostLabel.MatchString(label) {
			return fmt.Sprintf("%s is not a DNS name (no scheme, port or path)", strconv.Quote(s))
		}
	}
	return ""
}

// bucketNameProblem describes why name is not a valid S3 bucket name, or
// returns "".
func bucketNameProblem(name string) string {
	q := strconv.Quote(name)
	switch {
	case len(name) < 3 || len(name) > 63:
		return q + " is not a valid bucket name (3-63 characters)"
	case strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "":
		return q + " is not a valid bucket name (lowercase letters, digits, '.' and '-')"
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return q + " is not a valid bucket name (must start and end with a letter or digit)"
	case strings.Contains(name, ".."):
		return q + " is not a valid bucket name (no '..')"
	case net.ParseIP(name) != nil:
		return q + " is not a valid bucket name (looks like an IP address)"
	}
	return ""
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}
