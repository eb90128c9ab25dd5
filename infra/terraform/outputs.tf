output "bucket_name" {
  description = "The sync bucket (DGP_CONFIG_SYNC_BUCKET)."
  value       = local.bucket_id
}

output "bucket_arn" {
  description = "ARN of the sync bucket."
  value       = local.bucket_arn
}

output "config_object_key" {
  description = "The config DB's key (DGP_CONFIG_SYNC_KEY)."
  value       = var.config_object_key
}

output "topic_arn" {
  description = "The SNS topic the bucket notifies."
  value       = aws_sns_topic.config.arn
}

output "queue_urls" {
  description = "Each instance's queue URL (DGP_CONFIG_SYNC_SQS_QUEUE_URL), by instance name."
  value       = { for name, q in aws_sqs_queue.instance : name => q.url }
}

output "sqs_queue_urls" {
  description = "The queue URLs in the order of instance_names: the Helm chart's configSync.sqs.queueUrls."
  value       = [for name in var.instance_names : aws_sqs_queue.instance[name].url]
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "instance_policy_json" {
  description = "IAM policy JSON each instance needs (sync bucket, startup probe, its own queue), by instance name."
  value       = { for name, d in data.aws_iam_policy_document.instance : name => d.json }
}

output "fleet_policy_json" {
  description = "IAM policy JSON for instances that share one role (e.g. one IRSA role for a Helm release): every queue."
  value       = data.aws_iam_policy_document.fleet.json
}
