package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// jobNameRE is what replication and lifecycle rule names look like (also
// internal/lease's ValidName: they name the lease objects).
var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// internalPrefix is dgp's own key space, never replicated nor expired.
const internalPrefix = ".deltaglider/"

// maxPrefixLen bounds rule prefixes (an S3 key is at most 1024 bytes).
const maxPrefixLen = 1024

// jobRange is a bucket prefix as the storage router resolves it: the
// backend and the bucket's name there, so that two client names of one
// backend bucket are seen as the same place.
type jobRange struct {
	backend, bucket, prefix string
}

// overlaps reports whether two ranges share keys: same backend bucket and
// one prefix a prefix of the other.
func (a jobRange) overlaps(b jobRange) bool {
	return a.backend == b.backend && a.bucket == b.bucket &&
		(strings.HasPrefix(a.prefix, b.prefix) || strings.HasPrefix(b.prefix, a.prefix))
}

func (c *Config) validateJobs(v *collector) {
	r := &c.Storage.Replication
	const rp = "storage.replication"
	positive(v, rp+".tick_interval", r.TickInterval)
	positive(v, rp+".lease_ttl", r.LeaseTTL)
	positive(v, rp+".heartbeat_interval", r.HeartbeatInterval)
	if r.LeaseTTL > 0 && r.HeartbeatInterval > 0 && r.HeartbeatInterval >= r.LeaseTTL {
		v.add(rp+".heartbeat_interval", fmt.Sprintf("must be less than %s.lease_ttl (%s), or the lease expires between renewals", rp, r.LeaseTTL))
	}
	inRange(v, rp+".max_failures_retained", r.MaxFailuresRetained, 1, MaxFailuresRetained)

	names := map[string]int{}
	srcs := make([]jobRange, len(r.Rules))
	dsts := make([]jobRange, len(r.Rules))
	routed := make([]bool, len(r.Rules))
	for i, rule := range r.Rules {
		p := fmt.Sprintf("%s.rules[%d]", rp, i)
		checkJobName(v, p+".name", rule.Name, names, i, "replication")
		var okS, okD bool
		srcs[i], okS = c.checkJobLocation(v, p+".source", rule.Source)
		dsts[i], okD = c.checkJobLocation(v, p+".destination", rule.Destination)
		routed[i] = okS && okD
		positive(v, p+".interval", rule.Interval)
		inRange(v, p+".batch_size", rule.BatchSize, 1, MaxJobBatchSize)
		oneOf(v, p+".conflict", string(rule.Conflict),
			string(ConflictNewerWins), string(ConflictContentDiff), string(ConflictSkipIfDestExists))
		checkGlobs(v, p, rule.IncludeGlobs, rule.ExcludeGlobs)
		if routed[i] && srcs[i].overlaps(dsts[i]) {
			v.add(p+".destination", fmt.Sprintf("overlaps the source (%s): the rule would copy its own copies", describeRange(srcs[i], dsts[i])))
		}
	}
	c.checkReplicationCycles(v, srcs, dsts, routed)

	l := &c.Storage.Lifecycle
	const lp = "storage.lifecycle"
	positive(v, lp+".tick_interval", l.TickInterval)
	inRange(v, lp+".max_failures_retained", l.MaxFailuresRetained, 1, MaxFailuresRetained)
	names = map[string]int{}
	for i, rule := range l.Rules {
		p := fmt.Sprintf("%s.rules[%d]", lp, i)
		c.validateLifecycleRule(v, p, rule, i, names)
	}
}

func (c *Config) validateLifecycleRule(v *collector, p string, rule LifecycleRule, i int, names map[string]int) {
	if rule.Name == "" && rule.Bucket == "" {
		v.add(p+".name", "required (or set bucket: the name is then derived from bucket and prefix)")
	} else {
		checkJobName(v, p+".name", rule.Name, names, i, "lifecycle")
	}
	src, okSrc := c.checkJobLocation(v, p, JobLocation{Bucket: rule.Bucket, Prefix: rule.Prefix})
	inRange(v, p+".batch_size", rule.BatchSize, 1, MaxJobBatchSize)
	checkGlobs(v, p, rule.IncludeGlobs, rule.ExcludeGlobs)

	a := rule.Action
	ap := p + ".action"
	retainSet := a.Count != 0 || a.Qualify != (RetainQualify{}) || a.ProtectYoungerThan != 0
	transitionSet := a.Destination != (JobLocation{}) || a.DeleteSourceAfterSuccess
	notFor := func(path string, set bool, uses string) {
		if set {
			v.add(path, fmt.Sprintf("only used by %s (this rule's action is %s)", uses, a.Type))
		}
	}
	switch a.Type {
	case ActionDelete:
		positive(v, p+".expire_after", rule.ExpireAfter)
		notFor(ap, retainSet, "retain-newest: count, qualify, protect_younger_than")
		notFor(ap, transitionSet, "transition: destination, delete_source_after_success")
	case ActionTransition:
		positive(v, p+".expire_after", rule.ExpireAfter)
		notFor(ap, retainSet, "retain-newest: count, qualify, protect_younger_than")
		dst, okDst := c.checkJobLocation(v, ap+".destination", a.Destination)
		if okSrc && okDst && src.overlaps(dst) {
			v.add(ap+".destination", fmt.Sprintf("overlaps the rule's own bucket and prefix (%s): transitioned objects would be selected again", describeRange(src, dst)))
		}
	case ActionRetainNewest:
		if a.Count < 1 {
			v.add(ap+".count", "required for retain-newest: at least 1 (0 would delete every qualifying object)")
		}
		if a.Qualify.MinSizeBytes < 0 {
			v.add(ap+".qualify.min_size_bytes", "must be 0 (no minimum) or more")
		}
		notNegative(v, ap+".qualify.min_age", a.Qualify.MinAge)
		notNegative(v, ap+".protect_younger_than", a.ProtectYoungerThan)
		notFor(ap, transitionSet, "transition: destination, delete_source_after_success")
		notNegative(v, p+".expire_after", rule.ExpireAfter)
	case "":
		v.add(ap, "required: delete, retain-newest or transition")
	default:
		oneOf(v, ap+".type", string(a.Type), string(ActionDelete), string(ActionRetainNewest), string(ActionTransition))
	}
}

// checkJobName checks a rule name and records it in names (name -> index).
func checkJobName(v *collector, path, name string, names map[string]int, i int, kind string) {
	switch {
	case name == "":
		v.add(path, "required")
		return
	case !jobNameRE.MatchString(name) || name == "." || name == "..":
		v.add(path, fmt.Sprintf("%s: use 1-64 letters, digits, '_', '.' and '-' (not \".\" or \"..\")", strconv.Quote(name)))
		return
	}
	if j, dup := names[name]; dup {
		v.add(path, fmt.Sprintf("%s rule %s is also rules[%d]: names must be unique", kind, strconv.Quote(name), j))
		return
	}
	names[name] = i
}

// checkJobLocation checks a bucket and prefix at path (path.bucket and
// path.prefix) and resolves them; ok is false when the bucket cannot be
// routed.
func (c *Config) checkJobLocation(v *collector, path string, loc JobLocation) (jobRange, bool) {
	ok := true
	switch {
	case loc.Bucket == "":
		v.add(path+".bucket", "required")
		ok = false
	case bucketNameProblem(loc.Bucket) != "":
		v.add(path+".bucket", bucketNameProblem(loc.Bucket))
		ok = false
	}
	pp := path + ".prefix"
	switch {
	case strings.HasPrefix(loc.Prefix, "/"):
		v.add(pp, "must not start with '/' (keys have no leading slash)")
	case strings.HasPrefix(loc.Prefix, internalPrefix):
		v.add(pp, "must not be under "+internalPrefix+" (dgp's own keys, never touched by jobs)")
	case len(loc.Prefix) > maxPrefixLen:
		v.add(pp, fmt.Sprintf("is longer than %d bytes", maxPrefixLen))
	}
	if !ok {
		return jobRange{}, false
	}
	backend, bucket := c.routeBucket(loc.Bucket)
	if _, exists := c.Backend(backend); !exists {
		v.add(path+".bucket", fmt.Sprintf("%s routes to backend %s, which is not configured", strconv.Quote(loc.Bucket), strconv.Quote(backend)))
		return jobRange{}, false
	}
	return jobRange{backend: backend, bucket: bucket, prefix: loc.Prefix}, true
}

// routeBucket resolves a client bucket as storage.Router does: a route in
// storage.buckets (its backend, else the default; its alias, else the
// same name), else the default backend under the same name.
func (c *Config) routeBucket(name string) (backend, bucket string) {
	backend, bucket = c.DefaultBackend(), name
	if route, ok := c.Storage.Buckets[name]; ok {
		if route.Backend != "" {
			backend = route.Backend
		}
		if route.Alias != "" {
			bucket = route.Alias
		}
	}
	return backend, bucket
}

// checkReplicationCycles refuses chains of rules that feed each other: an
// edge runs from rule i to rule j (i != j) when i's destination overlaps
// j's source, so that i's copies are j's input; a cycle of edges would copy
// forever. Each cycle (strongly connected set of rules) is reported once,
// at its first rule, with one path through it. Rules that could not be
// routed are left out; disabled rules are not (another instance may run
// them).
func (c *Config) checkReplicationCycles(v *collector, srcs, dsts []jobRange, routed []bool) {
	n := len(srcs)
	adj := make([][]int, n)
	for i := range n {
		for j := range n {
			if i != j && routed[i] && routed[j] && dsts[i].overlaps(srcs[j]) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	reach := make([][]bool, n)
	for i := range n {
		reach[i] = make([]bool, n)
		stack := append([]int(nil), adj[i]...)
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if reach[i][k] {
				continue
			}
			reach[i][k] = true
			stack = append(stack, adj[k]...)
		}
	}
	done := make([]bool, n)
	rules := c.Storage.Replication.Rules
	for s := range n {
		if done[s] || !reach[s][s] {
			continue
		}
		// The cycle's members: every rule s reaches that reaches s.
		member := make([]bool, n)
		for k := range n {
			if reach[s][k] && reach[k][s] {
				member[k], done[k] = true, true
			}
		}
		path := cyclePath(adj, member, s)
		names := make([]string, len(path))
		for i, k := range path {
			names[i] = strconv.Quote(rules[k].Name)
		}
		v.add(fmt.Sprintf("storage.replication.rules[%d]", s), fmt.Sprintf(
			"replication cycle: %s -> %s (each rule's destination overlaps the next one's source, so copies would be copied again without end)",
			strings.Join(names, " -> "), names[0]))
	}
}

// cyclePath returns a shortest path s -> ... -> (back to s) among members,
// without the final s.
func cyclePath(adj [][]int, member []bool, s int) []int {
	prev := make([]int, len(adj))
	for i := range prev {
		prev[i] = -1
	}
	queue := []int{s}
	seen := map[int]bool{s: true}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, j := range adj[k] {
			if j == s {
				var path []int
				for x := k; x != -1; x = prev[x] {
					path = append([]int{x}, path...)
				}
				return path
			}
			if member[j] && !seen[j] {
				seen[j], prev[j] = true, k
				queue = append(queue, j)
			}
		}
	}
	return []int{s}
}

func describeRange(src, dst jobRange) string {
	show := func(r jobRange) string {
		return fmt.Sprintf("%s/%s on backend %s", r.bucket, r.prefix, r.backend)
	}
	return "source " + show(src) + ", destination " + show(dst)
}

func checkGlobs(v *collector, p string, include, exclude []string) {
	for _, l := range []struct {
		key  string
		list []string
	}{{"include_globs", include}, {"exclude_globs", exclude}} {
		for k, g := range l.list {
			if _, err := CompileGlob(g); err != nil {
				v.add(fmt.Sprintf("%s.%s[%d]", p, l.key, k), fmt.Sprintf("%s: %v", strconv.Quote(g), err))
			}
		}
	}
}

func positive(v *collector, path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be more than 0")
	}
}

func notNegative(v *collector, path string, d time.Duration) {
	if d < 0 {
		v.add(path, "must not be negative (0: none)")
	}
}

func inRange(v *collector, path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
}

// jobWarnings lists job settings that are accepted but have no effect.
func (c *Config) jobWarnings() []string {
	var out []string
	withEnv := func(path string) string {
		if env := c.origin[path]; env != "" {
			return path + " (" + env + ")"
		}
		return path
	}
	if !c.Storage.Replication.Enabled && len(c.Storage.Replication.Rules) > 0 {
		out = append(out, withEnv("storage.replication.enabled")+": false: no replication rule runs")
	}
	l := &c.Storage.Lifecycle
	if !l.Enabled && len(l.Rules) > 0 {
		out = append(out, withEnv("storage.lifecycle.enabled")+": false (the default): no lifecycle rule runs (preview works)")
	}
	for i, r := range l.Rules {
		if r.Action.Type == ActionRetainNewest && r.ExpireAfter != 0 {
			out = append(out, fmt.Sprintf("storage.lifecycle.rules[%d].expire_after: ignored by retain-newest (use qualify.min_age or protect_younger_than)", i))
		}
	}
	return out
}
