package soak

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// convergeTimeout bounds how long a reader may take to show a mutation's
// effect (events arrive in milliseconds; the poll is an hour).
const convergeTimeout = 15 * time.Second

// churn makes one IAM mutation per interval on the writer and, after each,
// checks its effect on every instance: on the writer at once (an
// acknowledged mutation is in force there), on the readers within
// convergeTimeout. The mutations cycle through a churn user's life
// (create, disable, enable, rotate its keys, delete) and a change of the
// load group's rules that leaves the load's own permissions as they are.
type churn struct {
	o     Options
	env   *env
	fails *failures
	adm   *admin
	group string // the load group's id
	base  []rule // the load group's rules

	phase  int    // the next mutation of cur's life (1 disable ... 5 delete)
	serial int    // churn users created
	cur    *user  // the churn user alive, if any
	extra  bool   // the load group holds the extra rule
	prefix string // the churn user's resource

	mu        sync.Mutex
	mutations map[string]int
	checks    int
	refusals  int
	prop      []time.Duration
}

func newChurn(o Options, e *env, fails *failures, adm *admin, groupID string, base []rule) *churn {
	return &churn{o: o, env: e, fails: fails, adm: adm, group: groupID, base: base,
		prefix: e.dataBucket + "/churn/*", mutations: map[string]int{}}
}

// run mutates every interval until ctx ends.
func (c *churn) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.tick(ctx)
	}
}

// expectation is what a key must get from every instance after a mutation.
type expectation struct {
	key, secret string
	works       bool
}

// tick makes the next mutation and checks its effect.
func (c *churn) tick(ctx context.Context) {
	kind, expect, err := c.mutate(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		c.fails.add("mutation %s: %v", kind, err)
		return
	}
	c.mu.Lock()
	c.mutations[kind]++
	c.mu.Unlock()
	var slowest time.Duration
	for _, p := range c.env.procs {
		for _, x := range expect {
			d, err := c.check(ctx, p, x)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				c.fails.add("after %s: key %s on %s: %v", kind, x.key, p.name, err)
				return
			}
			slowest = max(slowest, d)
		}
	}
	c.mu.Lock()
	c.prop = append(c.prop, slowest)
	c.mu.Unlock()
}

// mutate makes the next mutation of the cycle.
func (c *churn) mutate(ctx context.Context) (string, []expectation, error) {
	defer func() { c.phase++ }()
	if c.cur == nil {
		c.serial++
		var u user
		err := c.adm.do(ctx, http.MethodPost, "/users", map[string]any{
			"name":        fmt.Sprintf("churn-%05d", c.serial),
			"permissions": []rule{allow(c.prefix, "read", "write", "list")},
		}, http.StatusCreated, &u)
		if err != nil {
			return "create-user", nil, err
		}
		c.cur, c.phase = &u, 0 // then 1
		return "create-user", []expectation{{u.AccessKeyID, u.SecretAccessKey, true}}, nil
	}
	u := c.cur
	switch c.phase {
	case 1:
		err := c.adm.do(ctx, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, http.StatusOK, nil)
		return "disable-user", []expectation{{u.AccessKeyID, u.SecretAccessKey, false}}, err
	case 2:
		err := c.adm.do(ctx, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": true}, http.StatusOK, nil)
		return "enable-user", []expectation{{u.AccessKeyID, u.SecretAccessKey, true}}, err
	case 3:
		var n user
		if err := c.adm.do(ctx, http.MethodPost, "/users/"+u.ID+"/rotate-keys", nil, http.StatusOK, &n); err != nil {
			return "rotate-keys", nil, err
		}
		c.cur = &n
		return "rotate-keys", []expectation{{u.AccessKeyID, u.SecretAccessKey, false}, {n.AccessKeyID, n.SecretAccessKey, true}}, nil
	case 4:
		// The load group gains or loses a rule on another bucket: every
		// load user's rules change, its permissions on the data bucket not.
		rules := c.base
		if !c.extra {
			rules = append(append([]rule(nil), c.base...), allow(c.env.dataBucket+"-elsewhere/*", "read"))
		}
		if err := c.adm.do(ctx, http.MethodPut, "/groups/"+c.group, map[string]any{"permissions": rules}, http.StatusOK, nil); err != nil {
			return "update-group", nil, err
		}
		c.extra = !c.extra
		return "update-group", []expectation{{u.AccessKeyID, u.SecretAccessKey, true}}, nil
	default: // 5, or later after a failed delete
		err := c.adm.do(ctx, http.MethodDelete, "/users/"+u.ID, nil, http.StatusNoContent, nil)
		if err != nil {
			return "delete-user", nil, err
		}
		c.cur = nil
		return "delete-user", []expectation{{u.AccessKeyID, u.SecretAccessKey, false}}, nil
	}
}

// check waits until key gets the expected answer from p: at once on the
// writer, within convergeTimeout on a reader, and returns how long that
// took. The refusals it sees are meant by the mutation (counted as
// intended); an answer that is neither a success nor a refusal is an
// error.
func (c *churn) check(ctx context.Context, p *proc, x expectation) (time.Duration, error) {
	cl := s3Client(p, x.key, x.secret)
	start := time.Now()
	for {
		_, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.env.dataBucket), Prefix: aws.String("churn/"), MaxKeys: aws.Int32(1)})
		c.mu.Lock()
		c.checks++
		if err != nil && refused(err) {
			c.refusals++
		}
		c.mu.Unlock()
		switch {
		case err != nil && !refused(err):
			return 0, err
		case (err == nil) == x.works:
			return time.Since(start), nil
		case p.writer:
			return 0, fmt.Errorf("works=%v on the writer, which acknowledged the mutation", err == nil)
		case time.Since(start) > convergeTimeout:
			return 0, fmt.Errorf("still works=%v after %s", err == nil, convergeTimeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c *churn) summary() (map[string]int, int, int, LatencySummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int{}
	for k, v := range c.mutations {
		m[k] = v
	}
	return m, c.checks, c.refusals, summarize(c.prop)
}
