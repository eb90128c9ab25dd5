{{/* Chart name, truncated to a DNS label. */}}
{{- define "dgp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. Kept to 52 characters: StatefulSet pods
add "-<ordinal>" and their controller-revision label a hash.
*/}}
{{- define "dgp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dgp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dgp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dgp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dgp.labels" -}}
helm.sh/chart: {{ include "dgp.chart" . }}
{{ include "dgp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dgp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dgp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dgp.headless" -}}
{{- printf "%s-headless" (include "dgp.fullname" .) }}
{{- end }}

{{- define "dgp.scheme" -}}
{{- if .Values.tls.existingSecret }}https{{ else }}http{{ end }}
{{- end }}

{{/* The writer's URL that readers give to clients. */}}
{{- define "dgp.writerUrl" -}}
{{- if .Values.configSync.writerUrl }}
{{- .Values.configSync.writerUrl }}
{{- else }}
{{- printf "%s://%s-0.%s.%s.svc:%d" (include "dgp.scheme" .) (include "dgp.fullname" .) (include "dgp.headless" .) .Release.Namespace 9000 }}
{{- end }}
{{- end }}

{{/*
The configuration pod i gets (a YAML document): .Values.config, plus its
role and its SQS queue. Called with (dict "root" $ "i" i).
*/}}
{{- define "dgp.podConfig" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $cfg := deepCopy ($v.config | default dict) }}
{{- $adv := dict }}
{{- if $v.configSync.bucket }}
{{- if and $v.configSync.singleWriter (gt (int .i) 0) }}
{{- $_ := set $adv "config_sync_role" "reader" }}
{{- $_ := set $adv "config_sync_writer_url" (include "dgp.writerUrl" $root) }}
{{- else }}
{{- $_ := set $adv "config_sync_role" "writer" }}
{{- end }}
{{- with $v.configSync.sqs.queueUrls }}
{{- $_ := set $adv "config_sync_sqs" (dict "queue_url" (index . (int $.i))) }}
{{- end }}
{{- end }}
{{- if $adv }}
{{- $_ := set $cfg "advanced" (mergeOverwrite (get $cfg "advanced" | default dict) $adv) }}
{{- end }}
{{- if $cfg }}
{{- toYaml $cfg }}
{{- else }}
{{- "{}" }}
{{- end }}
{{- end }}

{{/*
Settings that cannot work: rendering fails with a message saying what to do.
*/}}
{{- define "dgp.validate" -}}
{{- $v := .Values }}
{{- $n := int $v.replicaCount }}
{{- if lt $n 1 }}
{{- fail "replicaCount must be at least 1" }}
{{- end }}
{{- if and (gt $n 1) (not $v.configSync.bucket) }}
{{- fail (printf "replicaCount is %d but configSync.bucket is not set: without a sync bucket every pod keeps its own IAM config DB and is an independent control plane. Set configSync.bucket (and bootstrapPassword.existingSecret), or keep replicaCount: 1. See docs/deployment.md." $n) }}
{{- end }}
{{- if and (gt $n 1) (not $v.storage.s3.endpoint) (not $v.storage.filesystem.existingClaim) }}
{{- fail (printf "replicaCount is %d but objects would live in each pod's own /data: set storage.s3.endpoint, or storage.filesystem.existingClaim (a ReadWriteMany volume)." $n) }}
{{- end }}
{{- if and $v.storage.s3.endpoint $v.storage.filesystem.existingClaim }}
{{- fail "set one of storage.s3.endpoint and storage.filesystem.existingClaim, not both" }}
{{- end }}
{{- if and $v.configSync.bucket (not $v.bootstrapPassword.existingSecret) }}
{{- fail "configSync.bucket is set but bootstrapPassword.existingSecret is not: every pod must share the bootstrap password (it encrypts the config DB). Create a Secret and name it there." }}
{{- end }}
{{- with $v.configSync.sqs.queueUrls }}
{{- if not $v.configSync.bucket }}
{{- fail "configSync.sqs.queueUrls is set but configSync.bucket is not" }}
{{- end }}
{{- if lt (len .) $n }}
{{- fail (printf "configSync.sqs.queueUrls has %d queue(s) for %d replicas: each pod needs its own queue (an SQS queue splits messages between its consumers)" (len .) $n) }}
{{- end }}
{{- if ne (len .) (len (uniq .)) }}
{{- fail "configSync.sqs.queueUrls lists a queue twice: each pod needs its own queue" }}
{{- end }}
{{- end }}
{{- end }}

{{/* env entries for an S3 key pair from a Secret. (dict "secret" .. "prefix" "DGP_STORAGE") */}}
{{- define "dgp.keyPairEnv" -}}
{{- if .s.existingSecret -}}
- name: {{ .prefix }}_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .s.existingSecret }}
      key: {{ .s.accessKeyIdKey }}
- name: {{ .prefix }}_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .s.existingSecret }}
      key: {{ .s.secretAccessKeyKey }}
{{- end }}
{{- end }}
