package iam

// Action is what a permission rule grants or denies. Every S3 operation maps
// to exactly one Action (see docs/iam.md for the table).
type Action string

// The actions of permission rules.
const (
	ActionRead   Action = "read"
	ActionWrite  Action = "write"
	ActionDelete Action = "delete"
	ActionList   Action = "list"
	ActionAdmin  Action = "admin"
	ActionAll    Action = "*"
)
