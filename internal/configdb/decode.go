package configdb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/jsonscan"
)

// decodeData decodes a current-schema payload strictly: unknown fields and
// trailing data are errors (a field this binary does not know would be lost
// when it rewrites the DB, so new fields come with a new schema). Groups
// have no member_ids since schema 2 (membership is stored on the users;
// deriveMembers fills Group.MemberIDs in after decoding).
//
// It accepts exactly what encoding/json (with DisallowUnknownFields, into a
// Data) accepts, with the same result: field names match case-insensitively
// when they do not match exactly, null leaves a field as it is (and empties
// a list or the revocation map), a repeated key decodes over the earlier
// value, invalid UTF-8 and lone surrogates become U+FFFD. It is a
// hand-written decoder for the one shape of the state because the config
// DB is decoded on every pull: it makes one copy of the payload as a string
// and slices every unescaped string out of it, and packs the small lists
// (rules, actions, resources, ids) into shared blocks, so a DB of n users
// costs a few dozen allocations instead of dozens per user.
func decodeData(payload []byte) (Data, error) { return decodePayload(payload, CurrentSchema, false) }

// decodePayload is decodeData for the form of the given schema (1: groups
// carry member_ids; 2: they do not), skipping the members it does not know
// when lenient (a newer, additive schema read as CurrentSchema: see Open)
// instead of refusing them.
func decodePayload(payload []byte, schema uint16, lenient bool) (Data, error) {
	d := decoder{Scanner: jsonscan.Scanner{Buf: payload, Text: string(payload)}, schema: schema, lenient: lenient}
	var out Data
	d.SkipSpace()
	if err := d.data(&out); err != nil {
		return Data{}, fmt.Errorf("decode state: %w", err)
	}
	d.SkipSpace()
	if d.Pos < len(d.Buf) {
		return Data{}, errors.New("decode state: trailing data")
	}
	return out, nil
}

// decoder reads one JSON document. Scratch lists and blocks are reused
// across the document; lists handed out are capped slices of blocks, so
// appending to them never writes into a neighbour.
type decoder struct {
	// Scanner reads the payload; its Text is empty (each string copied)
	// when users or groups are reused (decodeOn).
	jsonscan.Scanner
	// schema is the schema whose form is decoded (decodePayload).
	schema uint16
	// lenient skips unknown members instead of refusing them.
	lenient bool

	// reuse, when set, is the State whose users' texts users looks for
	// (decodeOn); texts collects the texts of the users decoded, and
	// usersSeen says the "users" key was met.
	reuse     *State
	texts     []string
	usersSeen bool
	// reuseGroups, groupTexts and groupsSeen are the same for groups
	// (decodeOn records no group texts before schema 2).
	reuseGroups *State
	groupTexts  []string
	groupsSeen  bool

	strScratch  []string
	actScratch  []iam.Action
	ruleScratch []iam.Rule
	strBlock    block[string]
	actBlock    block[iam.Action]
	ruleBlock   block[iam.Rule]
}

// block hands out capped sub-slices of a larger allocation. Blocks start
// small and double up to blockLen, so a small DB does not allocate (and
// clear) blocks it leaves mostly empty.
type block[T any] struct{ buf []T }

const (
	blockLen      = 1024
	firstBlockLen = 32
)

// copyOf returns a copy of src in the block (a new, non-nil, empty slice
// when src is empty, as encoding/json gives for []).
func (b *block[T]) copyOf(src []T) []T {
	if len(src) == 0 {
		return make([]T, 0)
	}
	if len(src) > cap(b.buf)-len(b.buf) {
		if len(src) > blockLen/4 {
			return append([]T(nil), src...)
		}
		b.buf = make([]T, 0, min(blockLen, max(firstBlockLen, 2*cap(b.buf), len(src))))
	}
	n := len(b.buf)
	b.buf = append(b.buf, src...)
	return b.buf[n:len(b.buf):len(b.buf)]
}

// field returns the name in names that key designates: the exact match, or
// else the first case-insensitive one (as encoding/json matches names). An
// unknown key is an error, or, when the decoder is lenient, skipped with its
// value: field then returns "" and pos is after the value.
func (d *decoder) field(key string, names ...string) (string, error) {
	name, err := field(key, names...)
	if err != nil && d.lenient {
		return "", d.Skip()
	}
	return name, err
}

func field(key string, names ...string) (string, error) {
	for _, n := range names {
		if key == n {
			return n, nil
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("json: unknown field %q", key)
}

// stringList decodes a list of strings over cur (as encoding/json decodes
// into an existing slice: null empties it, elements overwrite).
func (d *decoder) stringList(cur []string) ([]string, error) {
	if isNull, err := d.BeginArray("a list of strings"); isNull || err != nil {
		return nil, err
	}
	list := append(d.strScratch[:0], cur...)
	n := 0
	for first := true; ; n++ {
		more, err := d.NextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(list) {
			list = append(list, "")
		}
		if err := d.StringInto(&list[n]); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
	}
	d.strScratch = list
	return d.strBlock.copyOf(list[:n]), nil
}

// actionList is stringList for actions; the known ones are interned.
func (d *decoder) actionList(cur []iam.Action) ([]iam.Action, error) {
	if isNull, err := d.BeginArray("a list of actions"); isNull || err != nil {
		return nil, err
	}
	list := append(d.actScratch[:0], cur...)
	n := 0
	for first := true; ; n++ {
		more, err := d.NextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(list) {
			list = append(list, "")
		}
		s := string(list[n])
		if err := d.StringInto(&s); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
		list[n] = internAction(s)
	}
	d.actScratch = list
	return d.actBlock.copyOf(list[:n]), nil
}

func internAction(s string) iam.Action {
	for _, a := range [...]iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionDelete, iam.ActionList, iam.ActionAdmin, iam.ActionAll} {
		if s == string(a) {
			return a
		}
	}
	return iam.Action(s)
}
