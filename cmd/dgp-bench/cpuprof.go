package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"
)

// cpuByLabel sums the CPU time of a runtime/pprof CPU profile by the value
// of one sample label; samples without the label count under "". It reads
// just enough of the profile.proto encoding (gzipped protobuf) to do so.
func cpuByLabel(gz []byte, key string) (map[string]time.Duration, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read cpu profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read cpu profile: %w", err)
	}

	type sample struct {
		values []int64
		labels [][2]int64 // string-table indexes of key and value
	}
	var (
		strs        []string
		sampleTypes [][2]int64 // type, unit
		samples     []sample
	)
	err = pbFields(raw, func(field int, wire int, v uint64, b []byte) error {
		switch {
		case field == 1 && wire == 2: // sample_type
			var vt [2]int64
			err := pbFields(b, func(f, w int, v uint64, _ []byte) error {
				if w == 0 && (f == 1 || f == 2) {
					vt[f-1] = int64(v)
				}
				return nil
			})
			sampleTypes = append(sampleTypes, vt)
			return err
		case field == 2 && wire == 2: // sample
			var s sample
			err := pbFields(b, func(f, w int, v uint64, b []byte) error {
				switch {
				case f == 2 && w == 0:
					s.values = append(s.values, int64(v))
				case f == 2 && w == 2: // packed values
					return pbPacked(b, func(v uint64) { s.values = append(s.values, int64(v)) })
				case f == 3 && w == 2:
					var l [2]int64
					err := pbFields(b, func(f, w int, v uint64, _ []byte) error {
						if w == 0 && (f == 1 || f == 2) {
							l[f-1] = int64(v)
						}
						return nil
					})
					s.labels = append(s.labels, l)
					return err
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case field == 6 && wire == 2: // string_table
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read cpu profile: %w", err)
	}

	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	cpu := -1
	for i, st := range sampleTypes {
		if str(st[0]) == "cpu" && str(st[1]) == "nanoseconds" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil, errors.New("read cpu profile: no cpu/nanoseconds sample type")
	}
	out := map[string]time.Duration{}
	for _, s := range samples {
		if cpu >= len(s.values) {
			continue
		}
		val := ""
		for _, l := range s.labels {
			if str(l[0]) == key {
				val = str(l[1])
			}
		}
		out[val] += time.Duration(s.values[cpu])
	}
	return out, nil
}

var errProtobuf = errors.New("malformed protobuf")

// pbFields calls fn for every field of the protobuf message b: wire type 0
// (varint) passes v, wire type 2 (length-delimited) passes b; fixed-width
// fields are skipped.
func pbFields(b []byte, fn func(field, wire int, v uint64, b []byte) error) error {
	for len(b) > 0 {
		tag, n := pbVarint(b)
		if n == 0 {
			return errProtobuf
		}
		b = b[n:]
		field, wire := int(tag>>3), int(tag&7)
		switch wire {
		case 0:
			v, n := pbVarint(b)
			if n == 0 {
				return errProtobuf
			}
			b = b[n:]
			if err := fn(field, wire, v, nil); err != nil {
				return err
			}
		case 1, 5:
			size := 8
			if wire == 5 {
				size = 4
			}
			if len(b) < size {
				return errProtobuf
			}
			b = b[size:]
		case 2:
			l, n := pbVarint(b)
			if n == 0 || uint64(len(b)-n) < l {
				return errProtobuf
			}
			body := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(field, wire, 0, body); err != nil {
				return err
			}
		default:
			return errProtobuf
		}
	}
	return nil
}

// pbPacked calls fn for every varint of a packed repeated field.
func pbPacked(b []byte, fn func(uint64)) error {
	for len(b) > 0 {
		v, n := pbVarint(b)
		if n == 0 {
			return errProtobuf
		}
		fn(v)
		b = b[n:]
	}
	return nil
}

// pbVarint decodes a varint; n is 0 when b does not hold a whole one.
func pbVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
