# What a dgp instance needs: read and publish the config DB, run the writer's
# startup probe next to it, and consume its own queue. Attach the JSON to the
# instance's role (IRSA, instance profile, ...). Storage permissions for the
# buckets dgp serves are separate.

locals {
  # The statements every instance shares (the sync bucket, the KMS key).
  bucket_statements = concat(
    [
      {
        sid       = "ConfigDB"
        actions   = ["s3:GetObject", "s3:PutObject"] # GetObject also covers HeadObject
        resources = ["${local.bucket_arn}/${var.config_object_key}"]
      },
      {
        # The probe writes and deletes "<dir>/.dgp-probe-<random hex>" and
        # reads/writes the witness "<dir>/.dgp-probe-witness.json" (later
        # starts skip the probe): delete is granted for those keys only,
        # never the config DB.
        sid       = "StartupProbe"
        actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        resources = ["${local.bucket_arn}/${local.probe_prefix}*"]
      },
      {
        # Each instance's fleet status ".deltaglider/instances/<node>.json",
        # rewritten every 30 s and on every change; any instance may delete
        # one left by an instance gone for a day (internal/fleetstatus).
        sid       = "FleetStatus"
        actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        resources = ["${local.bucket_arn}/.deltaglider/instances/*"]
      },
      {
        # HeadBucket (readiness) and 404 rather than 403 for a DB not yet
        # published (S3 answers 403 for a missing key without ListBucket).
        sid       = "SyncBucket"
        actions   = ["s3:ListBucket"]
        resources = [local.bucket_arn]
      },
    ],
    var.kms_key_arn == null ? [] : [
      {
        sid       = "BucketKey"
        actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
        resources = [var.kms_key_arn]
      },
    ],
  )
}

# One policy per instance: the sync bucket and its own queue.
data "aws_iam_policy_document" "instance" {
  for_each = local.instances

  dynamic "statement" {
    for_each = local.bucket_statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "OwnQueue"
    effect    = "Allow"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.instance[each.key].arn]
  }
}

# One policy for a fleet whose instances share a role (the pods of one Helm
# release share a service account, so one IRSA role): every queue.
data "aws_iam_policy_document" "fleet" {
  dynamic "statement" {
    for_each = local.bucket_statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "FleetQueues"
    effect    = "Allow"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [for q in aws_sqs_queue.instance : q.arn]
  }
}
