package checks

import (
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// tfModule is one Terraform module directory, parsed.
type tfModule struct {
	dir       string
	src       map[string][]byte // file -> bytes
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	outputs   map[string]*hclsyntax.Block
	modules   map[string]*hclsyntax.Block
	bodies    []*hclsyntax.Body
}

func parseModule(t *testing.T, dir string) *tfModule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s", dir)
	}
	m := &tfModule{dir: dir, src: map[string][]byte{}, variables: map[string]*hclsyntax.Block{},
		locals: map[string]*hclsyntax.Attribute{}, resources: map[string]*hclsyntax.Block{},
		data: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Block{}, modules: map[string]*hclsyntax.Block{}}
	p := hclparse.NewParser()
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		m.src[f] = file.Bytes
		body := file.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			name := strings.Join(b.Labels, ".")
			add := func(into map[string]*hclsyntax.Block) {
				if _, dup := into[name]; dup {
					t.Errorf("%s: %s %s declared twice", f, b.Type, name)
				}
				into[name] = b
			}
			switch b.Type {
			case "variable":
				add(m.variables)
			case "resource":
				add(m.resources)
			case "data":
				add(m.data)
			case "output":
				add(m.outputs)
			case "module":
				add(m.modules)
			case "locals":
				for n, a := range b.Body.Attributes {
					if _, dup := m.locals[n]; dup {
						t.Errorf("%s: local %s declared twice", f, n)
					}
					m.locals[n] = a
				}
			}
		}
	}
	return m
}

// checkReferences: every var., local., resource, data. and module.
// reference names something the module declares.
func (m *tfModule) checkReferences(t *testing.T) {
	t.Helper()
	var walkBody func(b *hclsyntax.Body, iterators map[string]bool)
	checkExpr := func(e hclsyntax.Expression, iterators map[string]bool) {
		for _, tr := range e.Variables() {
			root := tr.RootName()
			at := tr.SourceRange().String()
			step := func(i int) string {
				if len(tr) > i {
					if a, ok := tr[i].(hcl.TraverseAttr); ok {
						return a.Name
					}
				}
				return ""
			}
			switch {
			case root == "var":
				if m.variables[step(1)] == nil {
					t.Errorf("%s: var.%s is not declared", at, step(1))
				}
			case root == "local":
				if m.locals[step(1)] == nil {
					t.Errorf("%s: local.%s is not declared", at, step(1))
				}
			case root == "data":
				if m.data[step(1)+"."+step(2)] == nil {
					t.Errorf("%s: data.%s.%s is not declared", at, step(1), step(2))
				}
			case root == "module":
				if m.modules[step(1)] == nil {
					t.Errorf("%s: module.%s is not declared", at, step(1))
				}
			case root == "each", root == "count", root == "path", root == "self", root == "terraform", iterators[root]:
			case strings.Contains(root, "_"): // a resource type
				if m.resources[root+"."+step(1)] == nil {
					t.Errorf("%s: %s.%s is not declared", at, root, step(1))
				}
			default:
				t.Errorf("%s: unknown reference %s", at, root)
			}
		}
	}
	walkBody = func(b *hclsyntax.Body, iterators map[string]bool) {
		for _, a := range b.Attributes {
			checkExpr(a.Expr, iterators)
		}
		for _, blk := range b.Blocks {
			if blk.Type == "terraform" {
				continue // settings, not expressions
			}
			if blk.Type == "variable" {
				if typ, ok := blk.Body.Attributes["type"]; ok { // a type constraint, not references
					body := *blk.Body
					body.Attributes = map[string]*hclsyntax.Attribute{}
					for n, a := range blk.Body.Attributes {
						if a != typ {
							body.Attributes[n] = a
						}
					}
					walkBody(&body, iterators)
					continue
				}
			}
			inner := iterators
			if blk.Type == "dynamic" && len(blk.Labels) == 1 {
				inner = map[string]bool{blk.Labels[0]: true}
				for k := range iterators {
					inner[k] = true
				}
				if it, ok := blk.Body.Attributes["iterator"]; ok {
					inner[hcl.ExprAsKeyword(it.Expr)] = true
				}
			}
			walkBody(blk.Body, inner)
		}
	}
	for _, b := range m.bodies {
		walkBody(b, map[string]bool{})
	}
}

// text is the source of an expression, spaces normalised.
func (m *tfModule) text(e hclsyntax.Expression) string {
	r := e.Range()
	return strings.Join(strings.Fields(string(r.SliceBytes(m.src[r.Filename]))), " ")
}

// attr returns a block's attribute, following nested block types
// ("topic", "statement", ...): the first block of each type.
func attr(t *testing.T, b *hclsyntax.Block, names ...string) *hclsyntax.Attribute {
	t.Helper()
	body := b.Body
	for _, n := range names[:len(names)-1] {
		var next *hclsyntax.Body
		for _, blk := range body.Blocks {
			if blk.Type == n {
				next = blk.Body
				break
			}
		}
		if next == nil {
			t.Fatalf("%s %v: no block %s", b.Type, b.Labels, n)
		}
		body = next
	}
	a := body.Attributes[names[len(names)-1]]
	if a == nil {
		t.Fatalf("%s %v: no attribute %s", b.Type, b.Labels, strings.Join(names, "."))
	}
	return a
}

// literal evaluates an expression that needs no variables.
func literal(t *testing.T, a *hclsyntax.Attribute) cty.Value {
	t.Helper()
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %s is not a literal: %s", a.SrcRange, a.Name, diags.Error())
	}
	return v
}

func TestTerraformModule(t *testing.T) {
	root := repoRoot(t)
	m := parseModule(t, filepath.Join(root, "infra", "terraform"))
	m.checkReferences(t)
	c := loadContract(t)

	// The config key defaults to dgp's own default.
	keyVar := m.variables["config_object_key"]
	if keyVar == nil {
		t.Fatal("no variable config_object_key")
	}
	defKey := literal(t, attr(t, keyVar, "default")).AsString()
	if want := c.defaults["advanced.config_sync_object_key"]; defKey != want {
		t.Errorf("config_object_key defaults to %q, dgp to %q", defKey, want)
	}

	// The notification: object creation of exactly the config key, to the topic.
	n := m.resources["aws_s3_bucket_notification.config"]
	if n == nil {
		t.Fatal("no aws_s3_bucket_notification.config")
	}
	for _, f := range []string{"filter_prefix", "filter_suffix"} {
		if got := m.text(attr(t, n, "topic", f).Expr); got != "var.config_object_key" {
			t.Errorf("notification %s = %s, want var.config_object_key (exactly the config object)", f, got)
		}
	}
	events := literal(t, attr(t, n, "topic", "events"))
	if events.LengthInt() != 1 || events.Index(cty.NumberIntVal(0)).AsString() != "s3:ObjectCreated:*" {
		t.Errorf("notification events %s", events.GoString())
	}
	if got := m.text(attr(t, n, "topic", "topic_arn").Expr); got != "aws_sns_topic.config.arn" {
		t.Errorf("notification topic_arn = %s", got)
	}
	if !strings.Contains(m.text(attr(t, n, "depends_on").Expr), "aws_sns_topic_policy.config") {
		t.Error("the notification must wait for the topic policy (S3 checks it can publish)")
	}

	// The topic policy lets S3 publish, from the bucket only.
	tp := m.text(m.data["aws_iam_policy_document.topic"].Body.Blocks[0].Body.Attributes["actions"].Expr)
	topicDoc := string(m.data["aws_iam_policy_document.topic"].Range().SliceBytes(m.src[m.data["aws_iam_policy_document.topic"].Range().Filename]))
	if tp != `["SNS:Publish"]` || !strings.Contains(topicDoc, `"s3.amazonaws.com"`) || !strings.Contains(topicDoc, "aws:SourceArn") || !strings.Contains(topicDoc, "local.bucket_arn") {
		t.Errorf("topic policy: want SNS:Publish for s3.amazonaws.com conditioned on the bucket ARN:\n%s", topicDoc)
	}

	// One queue, queue policy, subscription and policy document per instance,
	// all over the same collection, which is var.instance_names.
	perInstance := []struct {
		kind string
		blk  *hclsyntax.Block
	}{
		{"aws_sqs_queue.instance", m.resources["aws_sqs_queue.instance"]},
		{"aws_sqs_queue_policy.instance", m.resources["aws_sqs_queue_policy.instance"]},
		{"aws_sns_topic_subscription.instance", m.resources["aws_sns_topic_subscription.instance"]},
		{"data.aws_iam_policy_document.queue", m.data["aws_iam_policy_document.queue"]},
		{"data.aws_iam_policy_document.instance", m.data["aws_iam_policy_document.instance"]},
	}
	var forEach string
	for _, p := range perInstance {
		if p.blk == nil {
			t.Errorf("no %s", p.kind)
			continue
		}
		fe, ok := p.blk.Body.Attributes["for_each"]
		if !ok {
			t.Errorf("%s has no for_each", p.kind)
			continue
		}
		got := m.text(fe.Expr)
		if forEach == "" {
			forEach = got
		} else if got != forEach {
			t.Errorf("%s: for_each = %s, the others use %s", p.kind, got, forEach)
		}
	}
	collection := forEach
	if l, ok := strings.CutPrefix(forEach, "local."); ok && m.locals[l] != nil {
		collection = m.text(m.locals[l].Expr)
	}
	if collection != "toset(var.instance_names)" && collection != "var.instance_names" {
		t.Errorf("for_each %s is not over var.instance_names (%s)", forEach, collection)
	}
	q := m.resources["aws_sqs_queue.instance"]
	if v := literal(t, attr(t, q, "receive_wait_time_seconds")); !v.Equals(cty.NumberIntVal(20)).True() {
		t.Errorf("receive_wait_time_seconds = %s, want 20 (long polling)", v.GoString())
	}
	if !strings.Contains(m.text(attr(t, q, "redrive_policy").Expr), "aws_sqs_queue.dead_letter.arn") {
		t.Error("queues have no dead-letter queue")
	}
	sub := m.resources["aws_sns_topic_subscription.instance"]
	if literal(t, attr(t, sub, "protocol")).AsString() != "sqs" || !literal(t, attr(t, sub, "raw_message_delivery")).True() {
		t.Error("subscriptions: want protocol sqs with raw delivery")
	}
	for blk, want := range map[*hclsyntax.Block][2]string{
		sub: {"endpoint", "aws_sqs_queue.instance[each.key].arn"},
		m.resources["aws_sqs_queue_policy.instance"]: {"policy", "data.aws_iam_policy_document.queue[each.key].json"},
	} {
		if got := m.text(attr(t, blk, want[0]).Expr); got != want[1] {
			t.Errorf("%v %s = %s, want %s (the instance's own)", blk.Labels, want[0], got, want[1])
		}
	}
	qp := m.data["aws_iam_policy_document.queue"]
	if got := m.text(attr(t, qp, "statement", "actions").Expr); got != `["sqs:SendMessage"]` ||
		!strings.Contains(m.text(attr(t, qp, "statement", "condition", "values").Expr), "aws_sns_topic.config.arn") {
		t.Errorf("queue policy: want sqs:SendMessage from the topic only")
	}
	inst := m.data["aws_iam_policy_document.instance"]
	if got := m.text(attr(t, inst, "statement", "resources").Expr); got != "[aws_sqs_queue.instance[each.key].arn]" {
		t.Errorf("instance policy's queue statement covers %s, want its own queue", got)
	}
	actions := m.text(attr(t, inst, "statement", "actions").Expr)
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
		if !strings.Contains(actions, `"`+a+`"`) {
			t.Errorf("instance policy lacks %s", a)
		}
	}

	// The S3 statements, evaluated for the default key: read and publish the
	// config object, and write/delete only the probe's keys, named as
	// internal/configsync/probe.go names them.
	m.checkBucketStatements(t, defKey, probeKeyName(t))

	for _, o := range []string{"queue_urls", "sqs_queue_urls", "topic_arn", "instance_policy_json", "fleet_policy_json", "bucket_name"} {
		if m.outputs[o] == nil {
			t.Errorf("no output %s", o)
		}
	}
	if got := m.text(attr(t, m.outputs["sqs_queue_urls"], "value").Expr); !strings.Contains(got, "for name in var.instance_names") {
		t.Errorf("sqs_queue_urls must keep the order of instance_names (pod i gets queueUrls[i]): %s", got)
	}
}

func (m *tfModule) checkBucketStatements(t *testing.T, key, probeName string) {
	t.Helper()
	dirname := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(path.Dir(args[0].AsString())), nil
		},
	})
	const bucketARN = "arn:aws:s3:::sync"
	ctx := &hcl.EvalContext{
		Functions: map[string]function.Function{"dirname": dirname, "concat": stdlib.ConcatFunc},
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{
				"config_object_key": cty.StringVal(key),
				"kms_key_arn":       cty.NullVal(cty.String),
			}),
		},
	}
	locals := map[string]cty.Value{"bucket_arn": cty.StringVal(bucketARN)}
	for _, name := range []string{"config_dir", "probe_prefix", "bucket_statements"} {
		a := m.locals[name]
		if a == nil {
			t.Fatalf("no local %s", name)
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("local.%s: %s", name, diags.Error())
		}
		locals[name] = v
	}
	wantProbe := path.Dir(key) + "/" + probeName
	if got := locals["probe_prefix"].AsString(); got != wantProbe {
		t.Errorf("probe prefix %q, dgp writes its probe at %q<hex>", got, wantProbe)
	}
	grants := map[string][]string{} // action -> resources
	for it := locals["bucket_statements"].ElementIterator(); it.Next(); {
		_, st := it.Element()
		var res []string
		for r := st.GetAttr("resources").ElementIterator(); r.Next(); {
			_, v := r.Element()
			res = append(res, v.AsString())
		}
		for a := st.GetAttr("actions").ElementIterator(); a.Next(); {
			_, v := a.Element()
			grants[v.AsString()] = append(grants[v.AsString()], res...)
		}
	}
	for _, g := range grants {
		sort.Strings(g)
	}
	object := bucketARN + "/" + key
	probe := bucketARN + "/" + wantProbe + "*"
	status := bucketARN + "/" + fleetStatusPrefix(t) + "*" // every instance's fleet status
	want := map[string][]string{
		"s3:GetObject":    {object, probe, status},
		"s3:PutObject":    {object, probe, status},
		"s3:DeleteObject": {probe, status},
		"s3:ListBucket":   {bucketARN},
	}
	for a, w := range want {
		sort.Strings(w)
		if strings.Join(grants[a], " ") != strings.Join(w, " ") {
			t.Errorf("%s on %v, want exactly %v", a, grants[a], w)
		}
	}
	for a := range grants {
		if _, ok := want[a]; !ok {
			t.Errorf("unexpected grant %s on %v", a, grants[a])
		}
	}
}

// The example root module calls the module with arguments it declares,
// giving every variable that has no default.
func TestTerraformExamples(t *testing.T) {
	root := repoRoot(t)
	mod := parseModule(t, filepath.Join(root, "infra", "terraform"))
	dirs, _ := filepath.Glob(filepath.Join(root, "infra", "terraform", "examples", "*"))
	if len(dirs) == 0 {
		t.Fatal("no examples")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ex := parseModule(t, dir)
			ex.checkReferences(t)
			calls := 0
			for name, call := range ex.modules {
				src := literal(t, attr(t, call, "source")).AsString()
				if filepath.Clean(filepath.Join(dir, src)) != mod.dir {
					continue
				}
				calls++
				for arg := range call.Body.Attributes {
					if arg == "source" || arg == "providers" || arg == "depends_on" {
						continue
					}
					if mod.variables[arg] == nil {
						t.Errorf("module %s: argument %s is not a variable of the module", name, arg)
					}
				}
				for v, blk := range mod.variables {
					if _, hasDefault := blk.Body.Attributes["default"]; !hasDefault && call.Body.Attributes[v] == nil {
						t.Errorf("module %s: required variable %s not given", name, v)
					}
				}
				// Outputs the example reads exist.
				for _, b := range ex.bodies {
					_ = hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
						if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && e.Traversal.RootName() == "module" && len(e.Traversal) > 2 {
							if out, ok := e.Traversal[2].(hcl.TraverseAttr); ok && mod.outputs[out.Name] == nil {
								t.Errorf("%s: module output %s does not exist", e.SrcRange, out.Name)
							}
						}
						return nil
					})
				}
			}
			if calls == 0 {
				t.Error("the example does not call the module")
			}
		})
	}
}
