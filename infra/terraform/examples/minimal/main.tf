# A sync bucket for a three-pod Helm release named "dgp", with one queue per pod,
# and one IRSA role for the pods.
#
#   terraform init && terraform apply -var bucket_name=my-dgp-iam-sync -var oidc_provider_arn=...

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "bucket_name" {
  type = string
}

variable "oidc_provider_arn" {
  description = "The EKS cluster's IAM OIDC provider (for IRSA)."
  type        = string
}

variable "namespace" {
  type    = string
  default = "storage"
}

module "dgp_sync" {
  source = "../.."

  bucket_name    = var.bucket_name
  instance_names = ["dgp-0", "dgp-1", "dgp-2"]
  tags           = { app = "dgp" }
}

# The pods' service account assumes this role (serviceAccount.annotations:
# eks.amazonaws.com/role-arn = the output role_arn).
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(var.oidc_provider_arn, "/^arn:aws:iam::[0-9]+:oidc-provider\\//", "")}:sub"
      values   = ["system:serviceaccount:${var.namespace}:dgp"]
    }
  }
}

resource "aws_iam_role" "dgp" {
  name               = "dgp"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "dgp_sync" {
  name   = "dgp-config-sync"
  role   = aws_iam_role.dgp.id
  policy = module.dgp_sync.fleet_policy_json
}

output "role_arn" {
  value = aws_iam_role.dgp.arn
}

output "helm_values" {
  description = "Values for infra/helm/dgp (add storage and the bootstrap password Secret)."
  value = {
    replicaCount = 3
    configSync = {
      bucket = module.dgp_sync.bucket_name
      key    = module.dgp_sync.config_object_key
      sqs = {
        region    = var.region
        queueUrls = module.dgp_sync.sqs_queue_urls
      }
    }
    serviceAccount = {
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.dgp.arn }
    }
  }
}
