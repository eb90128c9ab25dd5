package configdb

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// filler sets every field reachable from a value to a distinct non-zero
// value, by reflection: strings "val-0001", "val-0002", ... (valid as ids,
// names, access keys, secrets and free text), true, increasing numbers,
// times with non-zero milliseconds and nanoseconds, slices of 2 elements
// and maps of 2 entries, each filled in turn. A field added to the stored
// state later is filled as well, so the round trip below covers it without
// anyone remembering to.
type filler struct {
	tb testing.TB
	n  int
}

var timeType = reflect.TypeFor[time.Time]()

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("val-%04d", f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.next()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.5)
	case reflect.Struct:
		if v.Type() == timeType {
			n := f.next()
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, n%60, n*int(time.Millisecond)+n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.tb.Fatalf("%s.%s: unexported field in the stored state", path, sf.Name)
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMapWithSize(v.Type(), 2)
		for i := range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k, fmt.Sprintf("%s[key %d]", path, i))
			f.fill(e, fmt.Sprintf("%s[%d]", path, i))
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), path)
		v.Set(p)
	default:
		f.tb.Fatalf("%s: the filler does not know kind %s: teach it", path, v.Kind())
	}
}

// oneOfTypes are the stored structs whose fields are alternatives (a
// group mapping rule has exactly one matcher): checkFull wants each of
// their fields non-zero in at least one element of a list, not in all.
var oneOfTypes = map[reflect.Type]bool{reflect.TypeFor[iam.GroupMapping](): true}

// checkFull fails unless every field reachable from v is non-zero, every
// slice has at least 2 elements, every map 2 entries and every time
// non-zero milliseconds. In a list of a oneOfTypes struct, each field is
// non-zero in some element.
func checkFull(tb testing.TB, v reflect.Value, path string) {
	tb.Helper()
	if v.IsZero() {
		tb.Errorf("%s is zero", path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			if t := v.Interface().(time.Time); t.Nanosecond()/int(time.Millisecond) == 0 {
				tb.Errorf("%s = %v has no milliseconds", path, t)
			}
			return
		}
		for i := range v.NumField() {
			if oneOfTypes[v.Type()] && v.Field(i).IsZero() {
				continue // checked across the list
			}
			checkFull(tb, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		if v.Len() < 2 {
			tb.Errorf("%s has %d elements", path, v.Len())
		}
		for i := range v.Len() {
			checkFull(tb, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		if et := v.Type().Elem(); oneOfTypes[et] {
			for f := range et.NumField() {
				set := false
				for i := range v.Len() {
					set = set || !v.Index(i).Field(f).IsZero()
				}
				if !set {
					tb.Errorf("%s: field %s is zero in every element", path, et.Field(f).Name)
				}
			}
		}
	case reflect.Map:
		if v.Len() < 2 {
			tb.Errorf("%s has %d entries", path, v.Len())
		}
		for it := v.MapRange(); it.Next(); {
			checkFull(tb, it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()))
		}
	case reflect.Pointer:
		checkFull(tb, v.Elem(), path)
	}
}

// fullData returns Data with every field filled (see filler), then made
// valid where validation constrains the content: rules (effect, actions,
// resources), issuer URLs and membership (both sides, every user in every
// group). Everything stays non-zero, and every string distinct.
func fullData(tb testing.TB) Data {
	tb.Helper()
	var d Data
	f := &filler{tb: tb}
	f.fill(reflect.ValueOf(&d).Elem(), "Data")
	fixRules := func(rules []iam.Rule) {
		for i := range rules {
			rules[i].Effect = []iam.Effect{iam.EffectAllow, iam.EffectDeny}[i%2]
			rules[i].Actions = []iam.Action{iam.ActionRead, iam.ActionList}
			for j := range rules[i].Resources {
				rules[i].Resources[j] += "/*"
			}
		}
	}
	var userIDs, groupIDs []string
	for i := range d.Users {
		userIDs = append(userIDs, d.Users[i].ID)
	}
	for i := range d.Groups {
		groupIDs = append(groupIDs, d.Groups[i].ID)
	}
	for i := range d.Users {
		fixRules(d.Users[i].Permissions)
		d.Users[i].GroupIDs = append([]string(nil), groupIDs...)
	}
	for i := range d.Groups {
		fixRules(d.Groups[i].Permissions)
		d.Groups[i].MemberIDs = append([]string(nil), userIDs...)
	}
	for i := range d.Providers {
		p := &d.Providers[i]
		p.IssuerURL = "https://" + p.IssuerURL + ".example.com/realm"
		p.RedirectURL = "https://" + p.RedirectURL + ".example.com" + iam.OIDCCallbackPath
		// One rule per matcher: email; claim and value; claim and regex.
		m := p.GroupMappings
		regex := iam.GroupMapping{Claim: m[0].Claim, Regex: "^" + m[1].Regex + "$", Groups: m[1].Groups}
		m[0] = iam.GroupMapping{Email: "*@" + m[0].Email, Groups: m[0].Groups}
		m[1] = iam.GroupMapping{Claim: m[1].Claim, Value: m[1].Value, Groups: m[0].Groups}
		p.GroupMappings = append(m, regex)
		for j := range p.GroupMappings {
			p.GroupMappings[j].Groups = append([]string(nil), groupIDs...)
		}
	}
	checkFull(tb, reflect.ValueOf(d), "Data")
	return d
}

// TestSealOpenEveryField fills every field of the stored state by
// reflection and round-trips it through Seal and Open in every schema this
// binary writes: the State opened holds exactly what was sealed. A field
// that the hand-written decoder names wrongly (or does not know) refuses
// the DB as an unknown field, and one it stores in the wrong place or
// drops breaks the equality.
func TestSealOpenEveryField(t *testing.T) {
	d := fullData(t)
	st, err := NewState(11, d)
	if err != nil {
		t.Fatalf("the filled state does not validate: %v", err)
	}
	if got := st.Data(); !reflect.DeepEqual(got, d) {
		t.Fatalf("NewState changed the filled content:\n got %#v\nwant %#v", got, d)
	}
	keys := NewKeyCache(4)
	for schema := MinWriteSchema; schema <= CurrentSchema; schema++ {
		// The filled providers hold schema 3's fields: an older schema is
		// raised to 3 rather than losing them when its readers read 3 (2),
		// and refused otherwise (1): the fields of the older schema are
		// then round-tripped without them.
		sealed, want, wantSchema := st, d, max(schema, 3)
		if MinReaderSchema(3) > schema {
			_, err := Seal(st, SealOptions{KDF: testKDF, Schema: schema}, keys, testSecret)
			wantErr(t, err, ErrInvalid)
			want = cloneData(d)
			for i := range want.Providers {
				want.Providers[i].RedirectURL, want.Providers[i].GroupMappings = "", nil
			}
			if sealed, err = NewState(11, want); err != nil {
				t.Fatal(err)
			}
			wantSchema = schema
		}
		b := sealTest(t, sealed, keys, SealOptions{WriterNode: "every-field", Schema: schema})
		got, h, err := Open(b, keys, testSecret)
		if err != nil {
			t.Fatalf("schema %d: Open: %v", schema, err)
		}
		if int(h.Schema) != wantSchema || got.Generation() != 11 {
			t.Fatalf("schema %d: header %+v", schema, h)
		}
		if !reflect.DeepEqual(got.Data(), want) {
			t.Fatalf("schema %d: the opened state differs:\n got %#v\nwant %#v", schema, got.Data(), want)
		}
	}
}

// fullPayloads are the encodings of fullData in every schema this binary
// writes (seeds of the decoder's fuzz target).
func fullPayloads(tb testing.TB) [][]byte {
	tb.Helper()
	st, err := NewState(11, fullData(tb))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for schema := MinWriteSchema; schema <= CurrentSchema; schema++ {
		b, err := encodeAt(st, uint16(schema))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
