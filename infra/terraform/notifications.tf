# Event fan-out: the sync bucket -> SNS -> one SQS queue per dgp instance.
#
# Why SNS and one queue per instance: an SQS queue hands each message to one
# consumer, so instances sharing a queue would each see only some events; and
# S3 accepts one notification rule per event type and overlapping prefix, so
# it cannot notify several queues itself. The topic gives every queue, and so
# every instance, its own copy.

resource "aws_sns_topic" "config" {
  name = var.name_prefix
  tags = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "S3PublishesConfigEvents"
    effect    = "Allow"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.config.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "config" {
  arn    = aws_sns_topic.config.arn
  policy = data.aws_iam_policy_document.topic.json
}

# New versions of exactly the config object (prefix and suffix are both the
# key; S3 checks them separately). This resource owns the bucket's whole
# notification configuration.
resource "aws_s3_bucket_notification" "config" {
  bucket = local.bucket_id

  topic {
    id            = "dgp-config-sync"
    topic_arn     = aws_sns_topic.config.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.config_object_key
    filter_suffix = var.config_object_key
  }

  depends_on = [aws_sns_topic_policy.config]
}

# Messages a consumer failed to handle max_receive_count times.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name_prefix}-dead-letter"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "instance" {
  for_each = local.instances

  name = "${var.name_prefix}-${each.key}"
  # dgp long-polls with a 20 s wait; the queue default matches it.
  receive_wait_time_seconds  = 20
  visibility_timeout_seconds = 60
  message_retention_seconds  = var.message_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge(var.tags, { "dgp-instance" = each.key })
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [for q in aws_sqs_queue.instance : q.arn]
  })
}

data "aws_iam_policy_document" "queue" {
  for_each = local.instances

  statement {
    sid       = "TopicSendsConfigEvents"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.instance[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.config.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "instance" {
  for_each = local.instances

  queue_url = aws_sqs_queue.instance[each.key].id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

# Raw delivery: the queue receives S3's own event JSON (dgp also reads the
# SNS envelope, should raw delivery be off).
resource "aws_sns_topic_subscription" "instance" {
  for_each = local.instances

  topic_arn            = aws_sns_topic.config.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.instance[each.key].arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.instance]
}
