package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// s3TimeFormat is how S3 writes timestamps in XML bodies.
const s3TimeFormat = "2006-01-02T15:04:05.000Z"

func s3Time(t time.Time) string {
	var buf [len(s3TimeFormat)]byte
	return string(appendS3Time(buf[:0], t))
}

// appendS3Time appends t as s3TimeFormat does, by hand for the years of
// four digits (a listing writes one per key; Format interprets its layout
// each time).
func appendS3Time(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, s3TimeFormat)
	}
	hour, minute, sec := t.Clock()
	d2 := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	dst = d2(dst, year/100)
	dst = d2(dst, year%100)
	dst = d2(append(dst, '-'), int(month))
	dst = d2(append(dst, '-'), day)
	dst = d2(append(dst, 'T'), hour)
	dst = d2(append(dst, ':'), minute)
	dst = d2(append(dst, ':'), sec)
	ms := t.Nanosecond() / 1e6
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// pageTimes are the LastModified stamps of a listing page's entries,
// written into one string and sliced: a page costs three allocations for
// them, not one an entry.
type pageTimes struct {
	all  string
	ends []int // where each entry's stamp ends in all: the widths differ outside years 0-9999
}

// s3Times stamps each of objs.
func s3Times(objs []storage.ObjectInfo) pageTimes {
	stamps := make([]byte, 0, len(objs)*len(s3TimeFormat))
	ends := make([]int, len(objs))
	for i := range objs {
		stamps = appendS3Time(stamps, objs[i].LastModified)
		ends[i] = len(stamps)
	}
	return pageTimes{all: string(stamps), ends: ends}
}

// at is the stamp of entry i.
func (t pageTimes) at(i int) string {
	start := 0
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.all[start:t.ends[i]]
}

// writeXML renders v as an S3 XML response with status.
func writeXML(rq *request, status int, v any) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return s3err.ErrInternalError.WithCause(err)
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(buf.Bytes())
	return nil
}

// Response shapes (namespace http://s3.amazonaws.com/doc/2006-03-01/).

type xmlOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type xmlBucket struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   xmlOwner `xml:"Owner"`
	Buckets struct {
		Bucket []xmlBucket `xml:"Bucket"`
	} `xml:"Buckets"`
}

type xmlObject struct {
	Key          xmlText   `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
	Owner        *xmlOwner `xml:"Owner,omitempty"`
	StorageClass string    `xml:"StorageClass"`
}

type xmlPrefix struct {
	Prefix xmlText `xml:"Prefix"`
}

type listBucketResultV1 struct {
	XMLName        xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string      `xml:"Name"`
	Prefix         xmlText     `xml:"Prefix"`
	Marker         xmlText     `xml:"Marker"`
	NextMarker     xmlText     `xml:"NextMarker,omitempty"`
	MaxKeys        int         `xml:"MaxKeys"`
	Delimiter      xmlText     `xml:"Delimiter,omitempty"`
	IsTruncated    bool        `xml:"IsTruncated"`
	Contents       []xmlObject `xml:"Contents"`
	CommonPrefixes []xmlPrefix `xml:"CommonPrefixes"`
	EncodingType   string      `xml:"EncodingType,omitempty"`
}

type listBucketResultV2 struct {
	XMLName               xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string      `xml:"Name"`
	Prefix                xmlText     `xml:"Prefix"`
	NextContinuationToken string      `xml:"NextContinuationToken,omitempty"`
	KeyCount              int         `xml:"KeyCount"`
	MaxKeys               int         `xml:"MaxKeys"`
	Delimiter             xmlText     `xml:"Delimiter,omitempty"`
	IsTruncated           bool        `xml:"IsTruncated"`
	Contents              []xmlObject `xml:"Contents"`
	CommonPrefixes        []xmlPrefix `xml:"CommonPrefixes"`
	EncodingType          string      `xml:"EncodingType,omitempty"`
	ContinuationToken     string      `xml:"ContinuationToken,omitempty"`
	StartAfter            xmlText     `xml:"StartAfter,omitempty"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

type tagging struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  struct {
		Tags []struct {
			Key   string `xml:"Key"`
			Value string `xml:"Value"`
		} `xml:"Tag"`
	} `xml:"TagSet"`
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      xmlText  `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      xmlText  `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

type xmlPart struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string    `xml:"Bucket"`
	Key                  xmlText   `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	Initiator            xmlOwner  `xml:"Initiator"`
	Owner                xmlOwner  `xml:"Owner"`
	StorageClass         string    `xml:"StorageClass"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []xmlPart `xml:"Part"`
}

type xmlUpload struct {
	Key          xmlText  `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	Initiator    xmlOwner `xml:"Initiator"`
	Owner        xmlOwner `xml:"Owner"`
	StorageClass string   `xml:"StorageClass"`
	Initiated    string   `xml:"Initiated"`
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string      `xml:"Bucket"`
	KeyMarker          xmlText     `xml:"KeyMarker"`
	UploadIDMarker     string      `xml:"UploadIdMarker"`
	NextKeyMarker      xmlText     `xml:"NextKeyMarker"`
	NextUploadIDMarker string      `xml:"NextUploadIdMarker"`
	Delimiter          xmlText     `xml:"Delimiter,omitempty"`
	Prefix             xmlText     `xml:"Prefix"`
	MaxUploads         int         `xml:"MaxUploads"`
	IsTruncated        bool        `xml:"IsTruncated"`
	Uploads            []xmlUpload `xml:"Upload"`
	CommonPrefixes     []xmlPrefix `xml:"CommonPrefixes"`
	EncodingType       string      `xml:"EncodingType,omitempty"`
}

type xmlDeleted struct {
	Key                   xmlText `xml:"Key"`
	VersionID             string  `xml:"VersionId,omitempty"`
	DeleteMarker          bool    `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string  `xml:"DeleteMarkerVersionId,omitempty"`
}

type xmlDeleteError struct {
	Key       xmlText `xml:"Key"`
	VersionID string  `xml:"VersionId,omitempty"`
	Code      string  `xml:"Code"`
	Message   string  `xml:"Message"`
}

type deleteResult struct {
	XMLName xml.Name         `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []xmlDeleted     `xml:"Deleted"`
	Errors  []xmlDeleteError `xml:"Error"`
}

// Request bodies.

type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type deleteObject struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId"`
}

type deleteRequest struct {
	XMLName xml.Name       `xml:"Delete"`
	Quiet   bool           `xml:"Quiet"`
	Objects []deleteObject `xml:"Object"`
}

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// decodeXML decodes exactly one root element from data, rejecting trailing
// content other than whitespace, comments and processing instructions.
func decodeXML(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return s3err.ErrMalformedXML.WithCause(err)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return s3err.ErrMalformedXML.WithCause(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return s3err.ErrMalformedXML
			}
		case xml.Comment, xml.ProcInst:
		default:
			return s3err.ErrMalformedXML
		}
	}
}

// parseCompleteMultipartUpload validates a CompleteMultipartUpload body:
// at least one part, part numbers 1..MaxPartNumber in ascending order, each
// with an ETag (returned quoted).
func parseCompleteMultipartUpload(data []byte) ([]storage.CompletedPart, error) {
	var req completeMultipartUpload
	if err := decodeXML(data, &req); err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 || len(req.Parts) > MaxPartNumber {
		return nil, s3err.ErrMalformedXML
	}
	parts := make([]storage.CompletedPart, 0, len(req.Parts))
	for i, p := range req.Parts {
		if p.PartNumber < 1 || p.PartNumber > MaxPartNumber {
			return nil, s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and %d, inclusive.", MaxPartNumber)
		}
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return nil, s3err.ErrInvalidPartOrder
		}
		etag := strings.Trim(strings.TrimSpace(p.ETag), `"`)
		if etag == "" {
			return nil, s3err.ErrInvalidPart
		}
		parts = append(parts, storage.CompletedPart{PartNumber: p.PartNumber, ETag: `"` + etag + `"`})
	}
	return parts, nil
}

// parseDeleteObjects validates a DeleteObjects body: 1..MaxDeleteObjects
// objects. Keys are returned as given; each is validated by the caller.
func parseDeleteObjects(data []byte) (quiet bool, objs []deleteObject, err error) {
	var req deleteRequest
	if err := decodeXML(data, &req); err != nil {
		return false, nil, err
	}
	if len(req.Objects) == 0 || len(req.Objects) > MaxDeleteObjects {
		return false, nil, s3err.ErrMalformedXML
	}
	return req.Quiet, req.Objects, nil
}

// parseCreateBucketConfiguration reads an optional CreateBucketConfiguration
// body and returns its LocationConstraint (accepted and otherwise ignored).
func parseCreateBucketConfiguration(data []byte) (string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil
	}
	var req createBucketConfiguration
	if err := decodeXML(data, &req); err != nil {
		return "", err
	}
	return strings.TrimSpace(req.LocationConstraint), nil
}

// xmlText is element text that keeps every character of a key: characters
// XML 1.0 cannot carry (C0 controls, DEL, U+FFFE, U+FFFF) are written as
// character references ("&#x1;"), as S3 writes them, where encoding/xml
// would substitute U+FFFD. Strict XML 1.0 parsers refuse those references,
// as they do S3's: such keys are for encoding-type=url listings.
type xmlText string

// MarshalXML implements xml.Marshaler.
func (t xmlText) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(struct {
		S string `xml:",innerxml"`
	}{escapeXMLText(string(t))}, start)
}

// escapeXMLText escapes s for element content.
func escapeXMLText(s string) string {
	i := strings.IndexFunc(s, needsXMLEscape)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case needsXMLEscape(r):
			b.WriteString("&#x")
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
			b.WriteByte(';')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsXMLEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || r == '&' || r == '<' || r == '>' || r == 0xfffe || r == 0xffff
}
