# The sync bucket: the encrypted config DB every dgp instance shares.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_id  = var.create_bucket ? aws_s3_bucket.sync[0].id : data.aws_s3_bucket.sync[0].id
  bucket_arn = var.create_bucket ? aws_s3_bucket.sync[0].arn : data.aws_s3_bucket.sync[0].arn

  # Next to the config object, the writer's startup probe writes and deletes
  # a throwaway object "<dir of the key>/.dgp-probe-<random hex>" to check
  # that the bucket enforces conditional writes (internal/configsync/probe.go).
  config_dir   = dirname(var.config_object_key)
  probe_prefix = local.config_dir == "." ? ".dgp-probe-" : "${local.config_dir}/.dgp-probe-"

  manage_lifecycle = var.manage_lifecycle == null ? var.create_bucket : var.manage_lifecycle

  instances = toset(var.instance_names)
}

resource "aws_s3_bucket" "sync" {
  count = var.create_bucket ? 1 : 0

  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

data "aws_s3_bucket" "sync" {
  count = var.create_bucket ? 0 : 1

  bucket = var.bucket_name
}

resource "aws_s3_bucket_public_access_block" "sync" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.sync[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Every publish is a new version: an overwritten DB can be restored by hand.
resource "aws_s3_bucket_versioning" "sync" {
  bucket = local.bucket_id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "sync" {
  bucket = local.bucket_id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "sync" {
  count = local.manage_lifecycle ? 1 : 0

  bucket = local.bucket_id

  rule {
    id     = "config-db-old-versions"
    status = "Enabled"

    filter {
      prefix = var.config_object_key
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  rule {
    id     = "probe-objects"
    status = "Enabled"

    filter {
      prefix = local.probe_prefix
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    # Fleet status objects: rewritten every 30 s by every instance, so
    # their old versions go after a day; one not rewritten for a day
    # belongs to an instance that is gone (docs/fleet.md).
    id     = "fleet-status"
    status = "Enabled"

    filter {
      prefix = ".deltaglider/instances/"
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    expiration {
      days = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.sync]
}
