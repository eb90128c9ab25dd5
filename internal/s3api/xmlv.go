package s3api

import "encoding/xml"

// XML shapes of versioning, object lock and ACL requests and responses.

type versioningConfiguration struct {
	XMLName   xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

// versioningRequest is a PutBucketVersioning body. Pointers tell an absent
// element from an empty one.
type versioningRequest struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    *string  `xml:"Status"`
	MfaDelete *string  `xml:"MfaDelete"`
}

// xmlVersion is a Version or (XMLName DeleteMarker) a DeleteMarker entry
// of ListVersionsResult; markers have no ETag, Size or StorageClass.
type xmlVersion struct {
	XMLName      xml.Name
	Key          xmlText  `xml:"Key"`
	VersionID    string   `xml:"VersionId"`
	IsLatest     bool     `xml:"IsLatest"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag,omitempty"`
	Size         *int64   `xml:"Size,omitempty"`
	StorageClass string   `xml:"StorageClass,omitempty"`
	Owner        xmlOwner `xml:"Owner"`
}

// listVersionsResult is rendered by its appendXML (listxml.go), byte for
// byte as encoding/xml renders these tags: a change here goes there too
// (listvxml_test.go compares the two).
type listVersionsResult struct {
	XMLName             xml.Name     `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string       `xml:"Name"`
	Prefix              xmlText      `xml:"Prefix"`
	KeyMarker           xmlText      `xml:"KeyMarker"`
	VersionIDMarker     string       `xml:"VersionIdMarker"`
	NextKeyMarker       xmlText      `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string       `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int          `xml:"MaxKeys"`
	Delimiter           xmlText      `xml:"Delimiter,omitempty"`
	IsTruncated         bool         `xml:"IsTruncated"`
	Versions            []xmlVersion `xml:"Version"`
	CommonPrefixes      []xmlPrefix  `xml:"CommonPrefixes"`
	EncodingType        string       `xml:"EncodingType,omitempty"`
}

type xmlDefaultRetention struct {
	Mode  string `xml:"Mode"`
	Days  int    `xml:"Days,omitempty"`
	Years int    `xml:"Years,omitempty"`
}

type objectLockConfiguration struct {
	XMLName           xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ObjectLockConfiguration"`
	ObjectLockEnabled string   `xml:"ObjectLockEnabled,omitempty"`
	Rule              *struct {
		DefaultRetention xmlDefaultRetention `xml:"DefaultRetention"`
	} `xml:"Rule,omitempty"`
}

// objectLockRequest is a PutObjectLockConfiguration body.
type objectLockRequest struct {
	XMLName           xml.Name `xml:"ObjectLockConfiguration"`
	ObjectLockEnabled string   `xml:"ObjectLockEnabled"`
	Rule              *struct {
		DefaultRetention *struct {
			Mode  *string `xml:"Mode"`
			Days  *int    `xml:"Days"`
			Years *int    `xml:"Years"`
		} `xml:"DefaultRetention"`
	} `xml:"Rule"`
}

type retention struct {
	XMLName         xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Retention"`
	Mode            string   `xml:"Mode,omitempty"`
	RetainUntilDate string   `xml:"RetainUntilDate,omitempty"`
}

// retentionRequest is a PutObjectRetention body.
type retentionRequest struct {
	XMLName         xml.Name `xml:"Retention"`
	Mode            *string  `xml:"Mode"`
	RetainUntilDate *string  `xml:"RetainUntilDate"`
}

type legalHold struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LegalHold"`
	Status  string   `xml:"Status"`
}

// legalHoldRequest is a PutObjectLegalHold body.
type legalHoldRequest struct {
	XMLName xml.Name `xml:"LegalHold"`
	Status  string   `xml:"Status"`
}

type xmlGrantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type xmlGrant struct {
	Grantee    xmlGrantee `xml:"Grantee"`
	Permission string     `xml:"Permission"`
}

type accessControlPolicy struct {
	XMLName xml.Name   `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   xmlOwner   `xml:"Owner"`
	Grants  []xmlGrant `xml:"AccessControlList>Grant"`
}

// aclRequest is a PutBucketAcl / PutObjectAcl body.
type aclRequest struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			Type         string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
			ID           string `xml:"ID"`
			URI          string `xml:"URI"`
			EmailAddress string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}
