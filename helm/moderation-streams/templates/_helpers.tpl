{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "moderation-streams.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: "<release>-<chart>", or the release name when it holds the chart name. */}}
{{- define "moderation-streams.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "moderation-streams.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the worker pods; never change them in an upgrade (selectors are immutable). */}}
{{- define "moderation-streams.selectorLabels" -}}
app.kubernetes.io/name: {{ include "moderation-streams.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}

{{/* Labels on every object of the chart. */}}
{{- define "moderation-streams.labels" -}}
helm.sh/chart: {{ include "moderation-streams.chart" . }}
{{ include "moderation-streams.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: moderation-streams
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* ServiceAccount of the pods. */}}
{{- define "moderation-streams.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "moderation-streams.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The worker image: repository@digest, or repository:tag with the tag defaulting to "<appVersion>-<flavor>". */}}
{{- define "moderation-streams.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "%s-%s" .Chart.AppVersion .Values.image.flavor) .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap holding the policy file, when there is a policy. */}}
{{- define "moderation-streams.policyConfigMap" -}}
{{- if .Values.policy.existingConfigMap -}}
{{- .Values.policy.existingConfigMap -}}
{{- else if .Values.policy.json -}}
{{- printf "%s-policy" (include "moderation-streams.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* SASL is in use (security.protocol SASL_PLAINTEXT or SASL_SSL). */}}
{{- define "moderation-streams.kafkaSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.security.protocol -}}true{{- end -}}
{{- end -}}

{{/* TLS to the brokers is in use (security.protocol SSL or SASL_SSL). */}}
{{- define "moderation-streams.kafkaTls" -}}
{{- if hasSuffix "SSL" .Values.kafka.security.protocol -}}true{{- end -}}
{{- end -}}

{{/*
Secret-backed environment of a container that talks to Kafka and Redis: the worker, and any Job that
reuses the worker's settings (envFrom the "<fullname>-env" ConfigMap plus this list).
*/}}
{{- define "moderation-streams.secretEnv" -}}
{{- if and (include "moderation-streams.kafkaSasl" .) .Values.kafka.security.sasl.existingSecret }}
- name: Kafka__Properties__sasl.username
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.security.sasl.existingSecret }}
      key: {{ .Values.kafka.security.sasl.usernameKey }}
- name: Kafka__Properties__sasl.password
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.security.sasl.existingSecret }}
      key: {{ .Values.kafka.security.sasl.passwordKey }}
{{- end }}
{{- if .Values.redis.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.passwordKey }}
- name: Redis__Configuration
  value: {{ printf "%s,password=$(REDIS_PASSWORD)" .Values.redis.configuration | quote }}
{{- end }}
{{- end -}}
