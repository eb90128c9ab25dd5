package s3api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// condOp is the kind of a POST policy condition.
type condOp int

const (
	// condEq: the field's value equals value ({"f": "v"} or ["eq", "$f", "v"]).
	condEq condOp = iota
	// condStartsWith: the field's value starts with value.
	condStartsWith
	// condLengthRange: the file's size is in [min, max].
	condLengthRange
	// condInvalid is a condition S3 cannot interpret (unknown operator,
	// wrong arity or types): it never holds.
	condInvalid
)

// postCondition is one condition of a POST policy.
type postCondition struct {
	op condOp
	// field is the form field, lower-case, without the '$'.
	field    string
	value    string
	min, max int64
	// text renders the condition in S3's error messages:
	// ["eq", "$key", "user/eric/"].
	text string
}

// postPolicy is a decoded POST policy document.
type postPolicy struct {
	expiration time.Time
	conditions []postCondition
}

// policyError is the InvalidPolicyDocument error for a policy that cannot be read.
func policyError(format string, args ...any) *s3err.Error {
	return s3err.ErrInvalidPolicyDocument.WithMessage("Invalid Policy: "+format, args...)
}

// parsePostPolicy decodes a POST policy: a JSON object with exactly the
// members "expiration" (an ISO 8601 UTC time) and "conditions" (an array).
// Each condition is an object with one member, or an array ["eq" |
// "starts-with", "$field", "value"] or ["content-length-range", min, max].
// A document that is not such an object is InvalidPolicyDocument; a
// condition of an unknown shape is kept as condInvalid, which fails when
// evaluated (as S3 answers: AccessDenied naming the condition).
func parsePostPolicy(doc []byte) (*postPolicy, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, policyError("Invalid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, policyError("Invalid JSON.")
	}
	for k := range top {
		if k != "expiration" && k != "conditions" {
			return nil, policyError("Unexpected field %q.", k)
		}
	}
	p := &postPolicy{}
	raw, ok := top["expiration"]
	if !ok {
		return nil, policyError("Policy missing expiration.")
	}
	var exp string
	if err := json.Unmarshal(raw, &exp); err != nil {
		return nil, policyError("Invalid 'expiration' value: '%s'", truncateField(string(raw)))
	}
	t, err := parseExpiration(exp)
	if err != nil {
		return nil, policyError("Invalid 'expiration' value: '%s'", truncateField(exp))
	}
	p.expiration = t
	raw, ok = top["conditions"]
	if !ok {
		return nil, policyError("Policy missing conditions.")
	}
	var conds []json.RawMessage
	if err := unmarshalNumber(raw, &conds); err != nil || conds == nil {
		return nil, policyError("Invalid 'conditions' value: must be a list.")
	}
	p.conditions = make([]postCondition, 0, len(conds))
	for _, c := range conds {
		pc, err := parseCondition(c)
		if err != nil {
			return nil, err
		}
		p.conditions = append(p.conditions, pc)
	}
	return p, nil
}

// parseExpiration reads an ISO 8601 time in UTC, with or without
// fractional seconds ("2007-12-01T12:00:00.000Z").
func parseExpiration(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, errors.New("expiration is not in UTC")
	}
	return time.Parse(time.RFC3339Nano, s)
}

func unmarshalNumber(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// parseCondition reads one element of "conditions".
func parseCondition(raw json.RawMessage) (postCondition, error) {
	switch firstByte(raw) {
	case '{':
		var m map[string]any
		if err := unmarshalNumber(raw, &m); err != nil {
			return postCondition{}, policyError("Invalid JSON.")
		}
		if len(m) != 1 {
			return postCondition{}, policyError("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok || k == "" {
				return postCondition{op: condInvalid, text: renderCondition([]any{"eq", "$" + k, v})}, nil
			}
			return postCondition{op: condEq, field: strings.ToLower(k), value: s,
				text: renderCondition([]any{"eq", "$" + k, s})}, nil
		}
	case '[':
		var a []any
		if err := unmarshalNumber(raw, &a); err != nil {
			return postCondition{}, policyError("Invalid JSON.")
		}
		return arrayCondition(a), nil
	}
	return postCondition{}, policyError("Invalid Condition: a condition must be an object or a list.")
}

// arrayCondition interprets ["op", ...]; shapes S3 cannot read are condInvalid.
func arrayCondition(a []any) postCondition {
	c := postCondition{op: condInvalid, text: renderCondition(a)}
	if len(a) != 3 {
		return c
	}
	op, _ := a[0].(string)
	switch strings.ToLower(op) {
	case "eq", "starts-with":
		f, ok1 := a[1].(string)
		v, ok2 := a[2].(string)
		if !ok1 || !ok2 || len(f) < 2 || f[0] != '$' {
			return c
		}
		c.field, c.value = strings.ToLower(f[1:]), v
		c.op = condEq
		if strings.EqualFold(op, "starts-with") {
			c.op = condStartsWith
		}
	case "content-length-range":
		lo, ok1 := policyInt(a[1])
		hi, ok2 := policyInt(a[2])
		if !ok1 || !ok2 {
			return c
		}
		c.op, c.min, c.max = condLengthRange, lo, hi
	}
	return c
}

// policyInt reads a non-negative integer given as a JSON number or a
// string of digits.
func policyInt(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// renderCondition writes a condition the way S3 quotes it in messages:
// ["eq", "$key", "value"].
func renderCondition(a []any) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range a {
		if i > 0 {
			b.WriteString(", ")
		}
		if n, ok := v.(json.Number); ok {
			b.WriteString(string(n))
			continue
		}
		enc, err := json.Marshal(v)
		if err != nil {
			enc = []byte(`null`)
		}
		b.Write(enc)
	}
	b.WriteByte(']')
	return truncateField(b.String())
}

// truncateField bounds text echoed back in an error message.
func truncateField(s string) string {
	const max = 256
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// exactOnly reports whether S3 allows only exact matching on field:
// bucket, success_action_status and the x-amz-* fields other than
// x-amz-meta-*.
func exactOnly(field string) bool {
	switch {
	case field == "bucket", field == "success_action_status":
		return true
	case strings.HasPrefix(field, "x-amz-meta-"):
		return false
	}
	return strings.HasPrefix(field, "x-amz-")
}

// holds reports whether condition c holds for value (present: the field
// was in the form). content-length-range is checked on the file instead.
func (c *postCondition) holds(value string, present bool) bool {
	switch c.op {
	case condEq:
		return present && value == c.value
	case condStartsWith:
		if exactOnly(c.field) {
			return false
		}
		if c.value == "" {
			return true
		}
		if c.field == "content-type" {
			// A list of types: each must start with the prefix.
			for part := range strings.SplitSeq(value, ",") {
				if !strings.HasPrefix(strings.TrimSpace(part), c.value) {
					return false
				}
			}
			return true
		}
		return strings.HasPrefix(value, c.value)
	case condLengthRange:
		return c.min <= c.max
	}
	return false
}

// postPolicyDenied is the AccessDenied S3 answers for a policy that rejects a form.
func postPolicyDenied(format string, args ...any) *s3err.Error {
	return s3err.ErrAccessDenied.WithMessage("Invalid according to Policy: "+format, args...)
}

// policyFields is what the policy is checked against: the form fields
// before the file (names lower-case), the request's bucket and the key
// after ${filename} expansion.
type policyFields struct {
	form   *postForm
	bucket string
	key    string
	// exempt reports whether a form field needs no condition.
	exempt func(name string) bool
}

func (f *policyFields) value(name string) (string, bool) {
	switch name {
	case "bucket":
		return f.bucket, true
	case "key":
		return f.key, true
	}
	return f.form.get(name)
}

// check evaluates the policy at now: expiry, then every condition in
// order, then that every form field is named by a condition. It returns
// AccessDenied with S3's message for the first failure.
func (p *postPolicy) check(f *policyFields, now time.Time) error {
	if !now.Before(p.expiration) {
		return postPolicyDenied("Policy expired.")
	}
	covered := make(map[string]bool, len(p.conditions))
	for i := range p.conditions {
		c := &p.conditions[i]
		if c.op == condEq || c.op == condStartsWith {
			covered[c.field] = true
		}
		v, ok := f.value(c.field)
		if !c.holds(v, ok) {
			return postPolicyDenied("Policy Condition failed: %s", c.text)
		}
	}
	for _, fld := range f.form.fields {
		if !covered[fld.name] && !f.exempt(fld.name) {
			return postPolicyDenied("Extra input fields: %s", fld.name)
		}
	}
	return nil
}

// lengthRange is the file size the policy allows: the intersection of its
// content-length-range conditions, within [0, MaxPutSize].
func (p *postPolicy) lengthRange() (lo, hi int64) {
	lo, hi = 0, MaxPutSize
	for _, c := range p.conditions {
		if c.op != condLengthRange {
			continue
		}
		lo = max(lo, c.min)
		hi = min(hi, c.max)
	}
	return lo, hi
}
