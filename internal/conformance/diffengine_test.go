//go:build integration

package conformance

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// A differential scenario is a sequence of raw, SigV4-signed requests sent
// in the same order to MinIO directly (the reference), to dgp on a
// directory and to dgp in front of MinIO. Each answer is normalised (the
// rules are on type answer, normalise_test.go) and compared field by field
// with MinIO's; a field where MinIO is known to differ from AWS S3 is
// compared with AWS's documented answer instead (divergences_test.go).

// scenario is one differential test.
type scenario struct {
	Name string
	// Buckets are the bucket placeholders the steps use ("bucket",
	// "bucket2"); each gets a unique real name per target.
	Buckets []string
	// Vars returns per-target values (dates computed when the target's run
	// starts) that templates use as {name}; answers holding a var's value
	// show {name}.
	Vars  func() map[string]string
	Steps []step
	// CleanupRetry is how long cleanup retries (COMPLIANCE retention
	// blocks deletes until its date).
	CleanupRetry time.Duration
}

// step is one request. Method, Path (escaped path and query, starting with
// "/"), Header and Body may hold {placeholders}: bucket placeholders, vars
// and values saved by earlier steps.
type step struct {
	Name   string
	Method string
	Path   string
	Header map[string]string
	Body   string
	// MD5 adds the Content-MD5 of Body (S3 requires it on some calls).
	MD5 bool
	// Build makes the request instead of Method/Path/Header/Body (a POST
	// object form); it must not sign it: send does unless Unsigned.
	Build    func(rc *runCtx) (*http.Request, []byte, error)
	Unsigned bool
	// StatusOnly compares only status and error code: for answers whose
	// headers S3 does not document (a HEAD's 416), said at the step.
	StatusOnly bool
	// Save records raw values of this answer for later templates:
	// var name -> "header:Name" or "body:Path/To/Element" (first match).
	Save map[string]string
}

// runCtx is one target's run of a scenario.
type runCtx struct {
	tg      *target
	client  *http.Client
	buckets map[string]string // placeholder -> real bucket name
	vars    map[string]string // vars and saved values
	ids     map[string]map[string]string
}

// expand replaces {placeholders} in s.
func (rc *runCtx) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var pairs []string
	for k, v := range rc.buckets {
		pairs = append(pairs, "{"+k+"}", v)
	}
	for k, v := range rc.vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// sign signs req (whose body is body) with the target's root keys.
func (rc *runCtx) sign(req *http.Request, body []byte) error {
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", ph)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	return signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rc.tg.AccessKey, SecretAccessKey: rc.tg.SecretKey},
		req, ph, "s3", region, time.Now())
}

// rawAnswer is what a target answered, before normalisation.
type rawAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error // transport error
}

func (rc *runCtx) send(st step) rawAnswer {
	var req *http.Request
	var body []byte
	var err error
	if st.Build != nil {
		req, body, err = st.Build(rc)
	} else {
		body = []byte(rc.expand(st.Body))
		req, err = http.NewRequest(st.Method, rc.tg.URL+rc.expand(st.Path), bytes.NewReader(body))
		if err == nil {
			for k, v := range st.Header {
				req.Header.Set(k, rc.expand(v))
			}
			if st.MD5 {
				sum := md5.Sum(body)
				req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
			}
		}
	}
	if err != nil {
		return rawAnswer{Err: err}
	}
	req.ContentLength = int64(len(body))
	if !st.Unsigned {
		if err := rc.sign(req, body); err != nil {
			return rawAnswer{Err: err}
		}
	}
	resp, err := rc.client.Do(req)
	if err != nil {
		return rawAnswer{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawAnswer{Status: resp.StatusCode, Header: resp.Header, Body: b, Err: err}
}

// save records the step's Save values from raw.
func (rc *runCtx) save(st step, raw rawAnswer) {
	for name, src := range st.Save {
		kind, what, _ := strings.Cut(src, ":")
		switch kind {
		case "header":
			rc.vars[name] = raw.Header.Get(what)
		case "body":
			leaves, _ := flattenXML(raw.Body)
			for _, l := range leaves {
				if stripIndexes(l.Path) == what {
					rc.vars[name] = l.Value
					break
				}
			}
		}
	}
}

// runScenarioOn runs every step of sc on tg and returns the normalised answers.
func runScenarioOn(sc scenario, tg *target) ([]answer, *runCtx) {
	client := tg.HTTPClient()
	// Redirects (POST's success_action_redirect) are answers to compare,
	// not to follow.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc := &runCtx{tg: tg, client: client, buckets: map[string]string{}, vars: map[string]string{}, ids: map[string]map[string]string{}}
	for _, b := range sc.Buckets {
		rc.buckets[b] = testutil.UniqueName("cf-" + b)
	}
	if sc.Vars != nil {
		for k, v := range sc.Vars() {
			rc.vars[k] = v
		}
	}
	answers := make([]answer, 0, len(sc.Steps))
	for _, st := range sc.Steps {
		raw := rc.send(st)
		rc.save(st, raw)
		answers = append(answers, rc.normalise(st, raw))
	}
	return answers, rc
}

// runDifferential runs sc on MinIO, dgp-dir and dgp-minio concurrently and
// compares each dgp answer with MinIO's, step by step.
func runDifferential(t *testing.T, sc scenario) {
	t.Helper()
	ref := minioTarget(t)
	targets := []*target{ref, startDGP(t, onDirectory, nil), startDGP(t, onMinIO, nil)}
	results := make([][]answer, len(targets))
	ctxs := make([]*runCtx, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], ctxs[i] = runScenarioOn(sc, tg)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for i, rc := range ctxs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cleanupBuckets(t, targets[i], rc.buckets, sc.CleanupRetry)
			}()
		}
		wg.Wait()
	})
	if os.Getenv("DGP_CONFORMANCE_DUMP") != "" {
		for s, st := range sc.Steps {
			t.Logf("MinIO %s/%s: %v\n    %s", sc.Name, st.Name, results[0][s].Fields, strings.Join(results[0][s].Body, "\n    "))
		}
	}
	for i := 1; i < len(targets); i++ {
		for s, st := range sc.Steps {
			compareAnswers(t, sc.Name+"/"+st.Name, targets[i].Name, results[0][s], results[i][s])
		}
	}
}

// problem is one field where a dgp answer is not what it should be.
type problem struct{ field, msg string }

// compareAnswers reports every field where got (a dgp target) differs from
// want (MinIO), applying the divergence list. A problem listed as pending
// (pending_test.go) is logged instead of failing the test.
func compareAnswers(t *testing.T, step, tgName string, want, got answer) {
	t.Helper()
	var problems []problem
	report := func(field, format string, args ...any) {
		problems = append(problems, problem{field, fmt.Sprintf(format, args...)})
	}
	defer func() {
		t.Helper()
		var failed []string
		for _, p := range problems {
			if why, ok := pendingFor("diff:"+step, p.field, tgName); ok {
				t.Logf("PENDING %s on %s: %s (known dgp bug: %s)", step, tgName, p.msg, why)
				continue
			}
			failed = append(failed, p.msg)
		}
		if len(failed) > 0 {
			t.Errorf("%s on %s differs:\n  %s", step, tgName, strings.Join(failed, "\n  "))
		}
	}()
	keys := map[string]bool{}
	for k := range want.Fields {
		keys[k] = true
	}
	for k := range got.Fields {
		keys[k] = true
	}
	wantBody, gotBody := want.Body, got.Body
	for _, d := range divergencesFor(step, tgName) {
		if d.Field == "answer" {
			// The whole answer differs: compare status and code only.
			if g := got.Fields["status"] + " " + got.Fields["code"]; !matches(d.AWS, g) {
				report("answer", "got %q, AWS answers %q (%s; %s)", g, d.AWS, d.Why, d.Doc)
			}
			if w := want.Fields["status"] + " " + want.Fields["code"]; !matches(d.MinIO, w) {
				t.Logf("%s: MinIO now answers %q, the divergence list says %q: update it", step, w, d.MinIO)
			}
			return
		}
		if strings.HasPrefix(d.Field, "body:") {
			p := strings.TrimPrefix(d.Field, "body:")
			var wRest, gRest, wSel, gSel []string
			wRest, wSel = splitLines(wantBody, p)
			gRest, gSel = splitLines(gotBody, p)
			wantBody, gotBody = wRest, gRest
			if !matches(d.AWS, strings.Join(gSel, "\n")) {
				report(d.Field, "%s: got %q, AWS answers %q (%s; %s)", d.Field, gSel, d.AWS, d.Why, d.Doc)
			}
			if !matches(d.MinIO, strings.Join(wSel, "\n")) {
				t.Logf("%s %s: MinIO now answers %q, the divergence list says %q: update it", step, d.Field, wSel, d.MinIO)
			}
			continue
		}
		delete(keys, d.Field)
		if !matches(d.AWS, got.Fields[d.Field]) {
			report(d.Field, "%s: got %q, AWS answers %q (%s; %s)", d.Field, got.Fields[d.Field], d.AWS, d.Why, d.Doc)
		}
		if !matches(d.MinIO, want.Fields[d.Field]) {
			t.Logf("%s %s: MinIO now answers %q, the divergence list says %q: update it", step, d.Field, want.Fields[d.Field], d.MinIO)
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if want.Fields[k] != got.Fields[k] {
			report(k, "%s: got %q, MinIO %q", k, got.Fields[k], want.Fields[k])
		}
	}
	if d := diffLines(wantBody, gotBody); d != "" {
		report("body", "body (- MinIO, + %s):\n%s", tgName, d)
	}
}

// splitLines separates the body lines under path p (indexes ignored) from the rest.
func splitLines(lines []string, p string) (rest, sel []string) {
	for _, l := range lines {
		path, _, _ := strings.Cut(l, "=")
		if sp := stripIndexes(path); sp == p || strings.HasPrefix(sp, p+"/") {
			sel = append(sel, strings.TrimPrefix(stripIndexes(l), p))
			continue
		}
		rest = append(rest, l)
	}
	return rest, sel
}

// diffLines is a line diff of two sorted line lists ("" when equal).
func diffLines(want, got []string) string {
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return ""
	}
	w, g := map[string]int{}, map[string]int{}
	for _, l := range want {
		w[l]++
	}
	for _, l := range got {
		g[l]++
	}
	var b strings.Builder
	for _, l := range want {
		if g[l] > 0 {
			g[l]--
			continue
		}
		b.WriteString("    - " + l + "\n")
	}
	for k := range g {
		g[k] = 0
	}
	for _, l := range got {
		g[l]++
	}
	for _, l := range got {
		if w[l] > 0 {
			w[l]--
			continue
		}
		b.WriteString("    + " + l + "\n")
	}
	if b.Len() == 0 {
		return "    (same lines, different order)\n    want " + strings.Join(want, " | ") + "\n    got  " + strings.Join(got, " | ")
	}
	return strings.TrimRight(b.String(), "\n")
}

// matches reports whether got is want, or matches it when want is
// "re:<regexp>".
func matches(want, got string) bool {
	if re, ok := strings.CutPrefix(want, "re:"); ok {
		return regexp.MustCompile(re).MatchString(got)
	}
	return want == got
}
