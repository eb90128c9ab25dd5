# `terraform test` for the module, entirely offline: a mocked AWS provider
# (Terraform >= 1.7), so nothing is created or called. Run:
#   cd infra/terraform && terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{}"
    }
  }
  # Values the provider validates as ARNs.
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:dgp-config-sync"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:dgp-config-sync-any"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-config-sync-any"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::dgp-iam-sync-test"
    }
  }
}

variables {
  bucket_name    = "dgp-iam-sync-test"
  instance_names = ["dgp-0", "dgp-1", "dgp-2"]
}

run "new_bucket" {
  command = apply

  # Distinct queue URLs, to see that the outputs keep instance order.
  override_resource {
    target = aws_sqs_queue.instance["dgp-0"]
    values = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:dgp-config-sync-dgp-0"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-config-sync-dgp-0"
    }
  }
  override_resource {
    target = aws_sqs_queue.instance["dgp-1"]
    values = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:dgp-config-sync-dgp-1"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-config-sync-dgp-1"
    }
  }

  assert {
    condition     = length(aws_s3_bucket.sync) == 1 && length(data.aws_s3_bucket.sync) == 0
    error_message = "create_bucket = true creates the bucket"
  }
  assert {
    condition     = aws_s3_bucket_versioning.sync.versioning_configuration[0].status == "Enabled"
    error_message = "versioning is on"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.sync.rule : one(r.apply_server_side_encryption_by_default).sse_algorithm]) == "AES256"
    error_message = "SSE-S3 without a KMS key"
  }
  assert {
    condition     = aws_s3_bucket_notification.config.topic[0].filter_prefix == ".deltaglider/config.db" && aws_s3_bucket_notification.config.topic[0].filter_suffix == ".deltaglider/config.db"
    error_message = "the notification filters exactly the config object"
  }
  assert {
    condition     = toset(aws_s3_bucket_notification.config.topic[0].events) == toset(["s3:ObjectCreated:*"])
    error_message = "the notification fires on object creation only"
  }
  assert {
    condition     = length(aws_sqs_queue.instance) == 3 && length(aws_sqs_queue_policy.instance) == 3 && length(aws_sns_topic_subscription.instance) == 3
    error_message = "one queue, queue policy and subscription per instance"
  }
  assert {
    condition     = alltrue([for q in aws_sqs_queue.instance : q.receive_wait_time_seconds == 20])
    error_message = "queues long-poll (20 s)"
  }
  assert {
    condition     = alltrue([for s in aws_sns_topic_subscription.instance : s.raw_message_delivery && s.protocol == "sqs"])
    error_message = "raw SQS delivery"
  }
  assert {
    condition     = aws_sqs_queue.instance["dgp-1"].name == "dgp-config-sync-dgp-1"
    error_message = "queue names carry the instance name"
  }
  assert {
    condition     = length(output.sqs_queue_urls) == 3 && output.sqs_queue_urls[0] == "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-config-sync-dgp-0" && output.sqs_queue_urls[1] == "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-config-sync-dgp-1"
    error_message = "sqs_queue_urls follows instance_names (pod i gets queueUrls[i])"
  }
  assert {
    condition     = local.probe_prefix == ".deltaglider/.dgp-probe-"
    error_message = "the probe objects sit next to the config object"
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.sync) == 1
    error_message = "lifecycle managed for a bucket the module creates"
  }
  assert {
    condition     = keys(output.instance_policy_json) == ["dgp-0", "dgp-1", "dgp-2"]
    error_message = "one policy per instance"
  }
}

run "existing_bucket_key_at_root" {
  command = apply

  variables {
    create_bucket     = false
    config_object_key = "config.db"
    kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  override_data {
    target = data.aws_s3_bucket.sync[0]
    values = {
      id  = "dgp-iam-sync-test"
      arn = "arn:aws:s3:::dgp-iam-sync-test"
    }
  }

  assert {
    condition     = length(aws_s3_bucket.sync) == 0 && output.bucket_arn == "arn:aws:s3:::dgp-iam-sync-test"
    error_message = "create_bucket = false uses the existing bucket"
  }
  assert {
    condition     = local.probe_prefix == ".dgp-probe-"
    error_message = "a key without a directory: probe objects at the root"
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.sync) == 0
    error_message = "an existing bucket's lifecycle configuration is left alone by default"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.sync.rule : one(r.apply_server_side_encryption_by_default).sse_algorithm]) == "aws:kms"
    error_message = "SSE-KMS with a key"
  }
  assert {
    condition     = contains([for s in local.bucket_statements : s.sid], "BucketKey")
    error_message = "the instances may use the KMS key"
  }
}

run "duplicate_instances_refused" {
  command = plan

  variables {
    instance_names = ["dgp-0", "dgp-0"]
  }

  expect_failures = [var.instance_names]
}
