variable "bucket_name" {
  description = "The sync bucket shared by every dgp instance (advanced.config_sync_bucket / DGP_CONFIG_SYNC_BUCKET)."
  type        = string
}

variable "create_bucket" {
  description = "Create the bucket (true) or use an existing one (false). Either way the module manages its versioning, encryption and event notifications."
  type        = bool
  default     = true
}

variable "config_object_key" {
  description = "Key of the config DB in the bucket (advanced.config_sync_object_key / DGP_CONFIG_SYNC_KEY)."
  type        = string
  default     = ".deltaglider/config.db"

  validation {
    condition     = length(var.config_object_key) > 0 && !startswith(var.config_object_key, "/")
    error_message = "config_object_key must be a non-empty object key without a leading slash."
  }
}

variable "instance_names" {
  description = "One name per dgp instance; each gets its own SQS queue. For the Helm chart use the pod names in order (release \"dgp\": [\"dgp-0\", \"dgp-1\", ...])."
  type        = list(string)

  validation {
    condition     = length(var.instance_names) > 0 && length(distinct(var.instance_names)) == length(var.instance_names)
    error_message = "instance_names must list at least one name, each once."
  }
}

variable "name_prefix" {
  description = "Prefix of the SNS topic and SQS queue names."
  type        = string
  default     = "dgp-config-sync"
}

variable "kms_key_arn" {
  description = "KMS key for the bucket's default encryption; null means SSE-S3 (AES256). With a key, the instance policy also allows kms:Decrypt and kms:GenerateDataKey on it."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket the module created even when it holds objects (all versions)."
  type        = bool
  default     = false
}

variable "manage_lifecycle" {
  description = "Manage the bucket's lifecycle configuration (expire old versions of the config DB and the probe objects). Null: only for a bucket the module creates, since a bucket has one lifecycle configuration and this would replace an existing one."
  type        = bool
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days an overwritten config DB version is kept (to roll back by hand) before it expires."
  type        = number
  default     = 30
}

variable "message_retention_seconds" {
  description = "How long an event waits in a queue. Events are hints: an instance that was away pulls at startup anyway, so an hour is plenty."
  type        = number
  default     = 3600
}

variable "max_receive_count" {
  description = "Receives of one message before it goes to the dead-letter queue (dgp deletes every message it receives, so this catches only a failing consumer)."
  type        = number
  default     = 5
}

variable "tags" {
  description = "Tags of every resource the module creates."
  type        = map(string)
  default     = {}
}
