package checks

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	releaseName = "dgp"
	releaseNS   = "storage"
)

// manifests is one rendering of the chart, decoded strictly.
type manifests struct {
	sts      *appsv1.StatefulSet
	services map[string]*corev1.Service
	cms      map[string]*corev1.ConfigMap
	sa       *corev1.ServiceAccount
	pdb      *policyv1.PodDisruptionBudget
	sm       *monitoringv1.ServiceMonitor
	notes    string
	count    map[string]int // kind -> objects
}

// renderChart renders infra/helm/dgp like `helm install --dry-run` would
// (Helm's engine in strict mode: a template that reads a value that does not
// exist fails; values are checked against values.schema.json), with the
// values files given (relative to the chart) and then overrides on top.
func renderChart(t *testing.T, files []string, overrides map[string]any) (map[string]string, error) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "infra", "helm", "dgp")
	chrt, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		mergeValues(vals, v)
	}
	mergeValues(vals, overrides)
	rv, err := chartutil.ToRenderValues(chrt, vals,
		chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNS, IsInstall: true, Revision: 1},
		chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(chrt, rv)
}

// mergeValues merges src into dst like successive `helm -f` files.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
			cp := map[string]any{}
			mergeValues(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits the rendered files into objects and decodes each one
// strictly into its Kubernetes type: an unknown or misspelt field fails.
func decode(t *testing.T, out map[string]string) manifests {
	t.Helper()
	m := manifests{services: map[string]*corev1.Service{}, cms: map[string]*corev1.ConfigMap{}, count: map[string]int{}}
	names := keys(out)
	for _, name := range names {
		body := out[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			m.notes = body
			continue
		}
		if strings.HasSuffix(name, ".tpl") {
			continue
		}
		for i, doc := range docSep.Split(body, -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s#%d", name, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", where, err, doc)
			}
			m.count[tm.Kind]++
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 StatefulSet":
				m.sts = &appsv1.StatefulSet{}
				obj = m.sts
			case "v1 Service":
				obj = &corev1.Service{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 ServiceAccount":
				m.sa = &corev1.ServiceAccount{}
				obj = m.sa
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				obj = m.pdb
			case "monitoring.coreos.com/v1 ServiceMonitor":
				m.sm = &monitoringv1.ServiceMonitor{}
				obj = m.sm
			default:
				t.Fatalf("%s: unexpected object %s %s", where, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: does not decode strictly as %s: %v\n%s", where, tm.Kind, err, doc)
			}
			switch o := obj.(type) {
			case *corev1.Service:
				m.services[o.Name] = o
			case *corev1.ConfigMap:
				m.cms[o.Name] = o
			}
		}
	}
	return m
}

// stripComments drops YAML comment lines (a document of comments only is empty).
func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func mustRender(t *testing.T, files []string, overrides map[string]any) manifests {
	t.Helper()
	out, err := renderChart(t, files, overrides)
	if err != nil {
		t.Fatalf("render %v: %v", files, err)
	}
	return decode(t, out)
}

// container returns the dgp container.
func (m manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	if m.sts == nil {
		t.Fatal("no StatefulSet")
	}
	cs := m.sts.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "dgp" {
		t.Fatalf("want one container named dgp, got %d", len(cs))
	}
	return cs[0]
}

func envMap(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// podConfig returns the config file pod i reads, decoded.
func (m manifests) podConfig(t *testing.T, i int) map[string]any {
	t.Helper()
	cm := m.cms[m.sts.Name+"-pods"]
	if cm == nil {
		t.Fatalf("no ConfigMap %s-pods", m.sts.Name)
	}
	key := fmt.Sprintf("%s-%d.yaml", m.sts.Name, i)
	body, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s (keys %v)", cm.Name, key, keys(cm.Data))
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%s: %v\n%s", key, err, body)
	}
	return doc
}

func dig(doc map[string]any, path ...string) any {
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// checkWiring asserts what must hold for every rendering.
func checkWiring(t *testing.T, m manifests) {
	t.Helper()
	c := loadContract(t)
	routes := routes(t)
	sts := m.sts
	if sts == nil || m.sa == nil || m.pdb == nil {
		t.Fatalf("missing objects: %v", m.count)
	}
	pod := sts.Spec.Template
	ctr := m.container(t)
	env := envMap(ctr)

	// Environment: dgp's contract only, each name once, $(VAR) references
	// to variables defined before them.
	var names []string
	seen := map[string]bool{}
	for _, e := range ctr.Env {
		if seen[e.Name] {
			t.Errorf("env %s set twice", e.Name)
		}
		for _, ref := range regexp.MustCompile(`\$\(([A-Z_0-9]+)\)`).FindAllStringSubmatch(e.Value, -1) {
			if !seen[ref[1]] {
				t.Errorf("env %s refers to $(%s), which is not defined before it", e.Name, ref[1])
			}
		}
		seen[e.Name] = true
		names = append(names, e.Name)
	}
	c.checkEnvNames(t, "statefulset env", names, "POD_NAME")

	// Every pod reads the config file of its own name, from the ConfigMap.
	if got := env["DGP_CONFIG"].Value; got != "/etc/dgp/pods/$(POD_NAME).yaml" {
		t.Errorf("DGP_CONFIG = %q", got)
	}
	if env["POD_NAME"].ValueFrom == nil || env["POD_NAME"].ValueFrom.FieldRef == nil || env["POD_NAME"].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME does not come from metadata.name: %+v", env["POD_NAME"])
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range ctr.VolumeMounts {
		mounts[vm.MountPath] = vm
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		vols[vct.Name] = corev1.Volume{Name: vct.Name}
	}
	for _, vm := range ctr.VolumeMounts {
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("mount %s names no volume %s", vm.MountPath, vm.Name)
		}
	}
	pc, ok := mounts["/etc/dgp/pods"]
	if !ok || vols[pc.Name].ConfigMap == nil || vols[pc.Name].ConfigMap.Name != sts.Name+"-pods" {
		t.Errorf("/etc/dgp/pods is not the ConfigMap %s-pods", sts.Name)
	}
	replicas := int(*sts.Spec.Replicas)
	cm := m.cms[sts.Name+"-pods"]
	if cm == nil || len(cm.Data) != replicas {
		t.Fatalf("ConfigMap %s-pods: want one file per replica (%d)", sts.Name, replicas)
	}
	for i := range replicas {
		c.checkConfigKeys(t, fmt.Sprintf("pod %d config", i), m.podConfig(t, i))
	}

	// State in /data, on a volume; the root filesystem read-only, /tmp writable.
	if env["DGP_DATA_DIR"].Value != "/data" {
		t.Errorf("DGP_DATA_DIR = %q", env["DGP_DATA_DIR"].Value)
	}
	for _, p := range []string{"/data", "/tmp"} {
		if _, ok := mounts[p]; !ok {
			t.Errorf("nothing mounted at %s", p)
		}
	}
	sc := ctr.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context: %+v", sc)
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context: %+v", psc)
	}

	// Probes: dgp's real routes, on the container's port.
	if len(ctr.Ports) != 1 || ctr.Ports[0].Name != "http" || ctr.Ports[0].ContainerPort != 9000 {
		t.Fatalf("ports: %+v", ctr.Ports)
	}
	if !strings.HasSuffix(env["DGP_LISTEN_ADDR"].Value, ":9000") {
		t.Errorf("DGP_LISTEN_ADDR %q is not the container port", env["DGP_LISTEN_ADDR"].Value)
	}
	scheme := corev1.URISchemeHTTP
	if _, ok := env["DGP_TLS_CERT_FILE"]; ok {
		scheme = corev1.URISchemeHTTPS
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", ctr.LivenessProbe, "/_/health"},
		{"readiness", ctr.ReadinessProbe, "/_/ready"},
		{"startup", ctr.StartupProbe, "/_/health"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: none", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || !routes[g.Path] {
			t.Errorf("%s probe: path %q, want %q (a route of internal/app)", p.name, g.Path, p.path)
		}
		if g.Port != intstr.FromString("http") || g.Scheme != scheme {
			t.Errorf("%s probe: port %v scheme %s, want http/%s", p.name, g.Port, g.Scheme, scheme)
		}
	}

	// Services and the PDB select exactly the pods.
	podLabels := labels(pod.Labels)
	main := m.services[sts.Name]
	headless := m.services[sts.Name+"-headless"]
	if main == nil || headless == nil || len(m.services) != 2 {
		t.Fatalf("services: %v", keys(m.services))
	}
	for _, s := range []*corev1.Service{main, headless} {
		if !podLabels.match(s.Spec.Selector) {
			t.Errorf("service %s selects %v, pods have %v", s.Name, s.Spec.Selector, pod.Labels)
		}
		if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort != intstr.FromString("http") {
			t.Errorf("service %s ports: %+v", s.Name, s.Spec.Ports)
		}
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || sts.Spec.ServiceName != headless.Name {
		t.Errorf("headless service %s (clusterIP %q) is not the StatefulSet's serviceName %q", headless.Name, headless.Spec.ClusterIP, sts.Spec.ServiceName)
	}
	if !podLabels.match(sts.Spec.Selector.MatchLabels) || !podLabels.match(m.pdb.Spec.Selector.MatchLabels) {
		t.Errorf("StatefulSet or PDB selector does not match the pods")
	}
	if m.pdb.Spec.MaxUnavailable == nil && m.pdb.Spec.MinAvailable == nil {
		t.Errorf("PDB without a budget")
	}
	if pod.Spec.ServiceAccountName != m.sa.Name {
		t.Errorf("pods use service account %q, the chart makes %q", pod.Spec.ServiceAccountName, m.sa.Name)
	}

	// Secrets are referenced, never inlined.
	for _, n := range []string{"DGP_BOOTSTRAP_PASSWORD", "DGP_BOOTSTRAP_PASSWORD_HASH", "DGP_SECRET_ACCESS_KEY",
		"DGP_STORAGE_SECRET_ACCESS_KEY", "DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY", "DGP_CONFIG_SYNC_NATS_TOKEN"} {
		if e, ok := env[n]; ok && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", n)
		}
	}

	// The ServiceMonitor, when there is one, scrapes dgp's metrics route
	// through the main service only (not twice through the headless one).
	if m.sm != nil {
		sel := m.sm.Spec.Selector.MatchLabels
		if !labels(main.Labels).match(sel) || labels(headless.Labels).match(sel) {
			t.Errorf("ServiceMonitor selects %v: want the main service only", sel)
		}
		if len(m.sm.Spec.Endpoints) != 1 {
			t.Fatalf("ServiceMonitor endpoints: %+v", m.sm.Spec.Endpoints)
		}
		ep := m.sm.Spec.Endpoints[0]
		if ep.Port != "http" || ep.Path != "/_/metrics" || !routes[ep.Path] {
			t.Errorf("ServiceMonitor endpoint %s%s", ep.Port, ep.Path)
		}
		if ep.Scheme == nil || !strings.EqualFold(ep.Scheme.String(), string(scheme)) {
			t.Errorf("ServiceMonitor scheme %v, dgp serves %s", ep.Scheme, scheme)
		}
	}
}

type labels map[string]string

// match: every selector label is on the object.
func (l labels) match(sel map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if l[k] != v {
			return false
		}
	}
	return true
}

func TestHelmDefaults(t *testing.T) {
	m := mustRender(t, nil, nil)
	checkWiring(t, m)
	if got := *m.sts.Spec.Replicas; got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}
	if m.sm != nil {
		t.Error("a ServiceMonitor by default (needs the operator's CRDs)")
	}
	env := envMap(m.container(t))
	for _, n := range []string{"DGP_CONFIG_SYNC_BUCKET", "DGP_BOOTSTRAP_PASSWORD", "DGP_STORAGE_S3"} {
		if _, ok := env[n]; ok {
			t.Errorf("%s set by default", n)
		}
	}
	if cfg := m.podConfig(t, 0); len(cfg) != 0 {
		t.Errorf("pod 0's config by default: %v", cfg)
	}
	if len(m.sts.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("want a volume claim for /data")
	}
	if m.sts.Spec.Template.Spec.AutomountServiceAccountToken == nil || *m.sts.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Errorf("service account token mounted by default")
	}
	if !strings.Contains(m.notes, "port-forward pod/dgp-0") || !strings.Contains(m.notes, "logs dgp-0 | grep DGP_BOOTSTRAP_PASSWORD") {
		t.Errorf("NOTES for one instance:\n%s", m.notes)
	}
}

func TestHelmHAWithNATS(t *testing.T) {
	m := mustRender(t, []string{"ci/ha-values.yaml"}, nil)
	checkWiring(t, m)
	if got := *m.sts.Spec.Replicas; got != 3 {
		t.Fatalf("replicas = %d", got)
	}
	env := envMap(m.container(t))
	want := map[string]string{
		"DGP_CONFIG_SYNC_BUCKET":       "dgp-iam-sync",
		"DGP_CONFIG_SYNC_KEY":          ".deltaglider/config.db",
		"DGP_CONFIG_SYNC_NATS_URL":     "nats://nats.nats.svc:4222",
		"DGP_CONFIG_SYNC_NATS_SUBJECT": "dgp.config-sync",
		"DGP_STORAGE_S3":               "http://minio.minio.svc:9000",
		"DGP_STORAGE_FORCE_PATH_STYLE": "true",
		"DGP_TLS_CERT_FILE":            "/etc/dgp/tls/tls.crt",
	}
	for k, v := range want {
		if env[k].Value != v {
			t.Errorf("%s = %q, want %q", k, env[k].Value, v)
		}
	}
	for k, secret := range map[string]string{"DGP_BOOTSTRAP_PASSWORD": "dgp-bootstrap", "DGP_STORAGE_ACCESS_KEY_ID": "dgp-minio", "DGP_ACCESS_KEY_ID": "dgp-root"} {
		if e := env[k]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret {
			t.Errorf("%s not from Secret %s", k, secret)
		}
	}
	// One writer (pod 0), readers that name it through the headless service.
	writerHost := fmt.Sprintf("https://%s-0.%s-headless.%s.svc:9000", m.sts.Name, m.sts.Name, releaseNS)
	for i := range 3 {
		cfg := m.podConfig(t, i)
		role, url := dig(cfg, "advanced", "config_sync_role"), dig(cfg, "advanced", "config_sync_writer_url")
		switch {
		case i == 0 && (role != "writer" || url != nil):
			t.Errorf("pod 0: role %v writer url %v", role, url)
		case i > 0 && (role != "reader" || url != writerHost):
			t.Errorf("pod %d: role %v writer url %v, want reader naming %s", i, role, url, writerHost)
		}
	}
	if m.sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if m.sm.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v", m.sm.Labels)
	}
	for _, s := range []string{
		"port-forward pod/dgp-0 9001:9000", "port-forward pod/dgp-1 9002:9000",
		"-c cookies", "/_/api/admin/login", "/_/api/admin/users", "/_/api/admin/config/sync-now",
		"jq '.[] | .name'", "aws s3 ls --endpoint-url https://127.0.0.1:9002",
	} {
		if !strings.Contains(m.notes, s) {
			t.Errorf("NOTES lack %q", s)
		}
	}
	checkNotesPaths(t, m.notes)
}

func TestHelmSQSQueuePerPod(t *testing.T) {
	m := mustRender(t, []string{"ci/aws-sqs-values.yaml"}, nil)
	checkWiring(t, m)
	vals, err := chartutil.ReadValuesFile(filepath.Join(repoRoot(t), "infra", "helm", "dgp", "ci", "aws-sqs-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	urls, _ := vals.PathValue("configSync.sqs.queueUrls")
	list, _ := urls.([]any)
	seen := map[any]bool{}
	for i := range int(*m.sts.Spec.Replicas) {
		cfg := m.podConfig(t, i)
		q := dig(cfg, "advanced", "config_sync_sqs", "queue_url")
		if q == nil || q != list[i] || seen[q] {
			t.Errorf("pod %d consumes queue %v, want queueUrls[%d] = %v, its own", i, q, i, list[i])
		}
		seen[q] = true
		if dig(cfg, "storage", "buckets", "archive", "alias") == nil {
			t.Errorf("pod %d: the chart's config value is not merged in: %v", i, cfg)
		}
	}
	env := envMap(m.container(t))
	if env["DGP_CONFIG_SYNC_SQS_REGION"].Value != "eu-west-1" {
		t.Errorf("DGP_CONFIG_SYNC_SQS_REGION = %q", env["DGP_CONFIG_SYNC_SQS_REGION"].Value)
	}
	if _, ok := env["DGP_CONFIG_SYNC_SQS_QUEUE_URL"]; ok {
		t.Error("one queue URL in the environment would be shared by every pod")
	}
	if _, ok := env["DGP_STORAGE_ACCESS_KEY_ID"]; ok {
		t.Error("static storage keys although the values use IRSA")
	}
	if m.sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("service account lacks the IRSA annotation: %v", m.sa.Annotations)
	}
}

// Settings that cannot work fail the rendering, with a message that says why.
func TestHelmRefusals(t *testing.T) {
	fleet := map[string]any{
		"bootstrapPassword": map[string]any{"existingSecret": "pw"},
		"storage":           map[string]any{"s3": map[string]any{"endpoint": "http://minio:9000"}},
		"configSync":        map[string]any{"bucket": "sync"},
	}
	cases := []struct {
		name  string
		files []string
		vals  []map[string]any
		want  string
	}{
		{name: "replicas without a sync bucket", vals: []map[string]any{{"replicaCount": 2}},
			want: "replicaCount is 2 but configSync.bucket is not set"},
		{name: "HA values without the bucket", files: []string{"ci/ha-values.yaml"}, vals: []map[string]any{{"configSync": map[string]any{"bucket": ""}}},
			want: "replicaCount is 3 but configSync.bucket is not set"},
		{name: "replicas on per-pod storage", vals: []map[string]any{fleet, {"replicaCount": 2, "storage": map[string]any{"s3": map[string]any{"endpoint": ""}}}},
			want: "objects would live in each pod's own /data"},
		{name: "sync bucket without a shared password", vals: []map[string]any{{"configSync": map[string]any{"bucket": "sync"}}},
			want: "bootstrapPassword.existingSecret is not"},
		{name: "fewer queues than pods", vals: []map[string]any{fleet, {"replicaCount": 3, "configSync": map[string]any{"sqs": map[string]any{"queueUrls": []any{"https://sqs/a", "https://sqs/b"}}}}},
			want: "2 queue(s) for 3 replicas"},
		{name: "a queue twice", vals: []map[string]any{fleet, {"replicaCount": 2, "configSync": map[string]any{"sqs": map[string]any{"queueUrls": []any{"https://sqs/a", "https://sqs/a"}}}}},
			want: "lists a queue twice"},
		{name: "two storages", vals: []map[string]any{fleet, {"storage": map[string]any{"filesystem": map[string]any{"existingClaim": "objects"}}}},
			want: "not both"},
		{name: "misspelt value", vals: []map[string]any{{"configSync": map[string]any{"buckt": "sync"}}},
			want: "buckt"},
		{name: "wrong type", vals: []map[string]any{{"replicaCount": "three"}},
			want: "replicaCount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			over := map[string]any{}
			for _, v := range c.vals {
				mergeValues(over, v)
			}
			_, err := renderChart(t, c.files, over)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	// The same fleet values with a bucket do render.
	m := mustRender(t, nil, mergeInto(fleet, map[string]any{"replicaCount": 2}))
	checkWiring(t, m)
}

func mergeInto(a, b map[string]any) map[string]any {
	out := map[string]any{}
	mergeValues(out, a)
	mergeValues(out, b)
	return out
}

// checkNotesPaths: every admin API path the NOTES use is documented.
func checkNotesPaths(t *testing.T, notes string) {
	t.Helper()
	doc := readFile(t, filepath.Join(repoRoot(t), "docs", "admin-api.md"))
	paths := regexp.MustCompile(`/_/api/admin/[a-z/-]+[a-z]`).FindAllString(notes, -1)
	sort.Strings(paths)
	if len(paths) == 0 {
		t.Fatal("NOTES name no admin API path")
	}
	for _, p := range paths {
		short := strings.TrimPrefix(p, "/_/api/admin")
		short = strings.TrimSuffix(short, "/throwaway")
		if !strings.Contains(doc, p) && !strings.Contains(doc, "`POST "+short+"`") && !strings.Contains(doc, short) {
			t.Errorf("NOTES use %s, which docs/admin-api.md does not describe", p)
		}
	}
}
