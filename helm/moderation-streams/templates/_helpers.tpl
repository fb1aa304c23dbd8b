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

{{/* Labels that select the review console's pods (review.enabled); immutable like the workers'. */}}
{{- define "moderation-streams.reviewSelectorLabels" -}}
app.kubernetes.io/name: {{ include "moderation-streams.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: review
{{- end -}}

{{/* Labels on the review console's objects. */}}
{{- define "moderation-streams.reviewLabels" -}}
helm.sh/chart: {{ include "moderation-streams.chart" . }}
{{ include "moderation-streams.reviewSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: moderation-streams
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Name prefix of the review console's objects: "<fullname>-review", at most 63 characters with "-metrics". */}}
{{- define "moderation-streams.reviewName" -}}
{{- printf "%s-review" (include "moderation-streams.fullname" . | trunc 48 | trimSuffix "-") -}}
{{- end -}}

{{- define "moderation-streams.reviewSecretsDir" -}}/var/run/secrets/moderation/review{{- end -}}

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
Secrets reach the pods only as files: one read-only projected volume per service, mode 0400, holding just the
keys the worker needs under fixed names. The worker reads them through its *File settings (Kafka:Security,
Redis:Security), which the ConfigMap points at these directories.
*/}}
{{- define "moderation-streams.kafkaSecretsDir" -}}/var/run/secrets/moderation/kafka{{- end -}}
{{- define "moderation-streams.redisSecretsDir" -}}/var/run/secrets/moderation/redis{{- end -}}

{{/* The Secret with the Kafka SASL credentials when a SASL protocol is used (required then). */}}
{{- define "moderation-streams.kafkaSaslSecret" -}}
{{- if include "moderation-streams.kafkaSasl" . -}}
{{- required "kafka.security.sasl.existingSecret is required with a SASL_* protocol (a Secret with the username and password)" .Values.kafka.security.sasl.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the Kafka TLS material when TLS is used and a Secret is named. */}}
{{- define "moderation-streams.kafkaTlsSecret" -}}
{{- if include "moderation-streams.kafkaTls" . -}}{{- .Values.kafka.security.tls.existingSecret -}}{{- end -}}
{{- end -}}

{{/* A Kafka client certificate and key (mutual TLS) are mounted. */}}
{{- define "moderation-streams.kafkaClientCert" -}}
{{- if and (include "moderation-streams.kafkaTlsSecret" .) .Values.kafka.security.tls.certKey .Values.kafka.security.tls.keyKey -}}true{{- end -}}
{{- end -}}

{{/* The Secret with the Redis password, when Redis is configured and a Secret is named. */}}
{{- define "moderation-streams.redisPasswordSecret" -}}
{{- if .Values.redis.configuration -}}{{- .Values.redis.existingSecret -}}{{- end -}}
{{- end -}}

{{/* Redis over TLS (Redis__Security__Tls) when Redis is configured. */}}
{{- define "moderation-streams.redisTls" -}}
{{- if and .Values.redis.configuration .Values.redis.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* The Secret with the Redis TLS material (private CA, client certificate), when TLS is on and a Secret is named. */}}
{{- define "moderation-streams.redisTlsSecret" -}}
{{- if include "moderation-streams.redisTls" . -}}{{- .Values.redis.tls.existingSecret -}}{{- end -}}
{{- end -}}

{{/* A Redis client certificate and key (mutual TLS) are mounted. */}}
{{- define "moderation-streams.redisClientCert" -}}
{{- if and (include "moderation-streams.redisTlsSecret" .) .Values.redis.tls.certKey .Values.redis.tls.keyKey -}}true{{- end -}}
{{- end -}}

{{/*
Non-secret environment that comes from a Secret: the Kafka SASL username (Kafka__Security__Username, a plain
setting of the worker kept in the same Secret as the password, which KEDA also reads). Passwords, keys and
tokens never go into the environment: see secretVolumes.
*/}}
{{- define "moderation-streams.secretEnv" -}}
{{- with include "moderation-streams.kafkaSaslSecret" . }}
- name: Kafka__Security__Username
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.kafka.security.sasl.usernameKey }}
{{- end }}
{{- end -}}

{{/* Mounts of the secret volumes (list items of a container's volumeMounts). */}}
{{- define "moderation-streams.secretVolumeMounts" -}}
{{- if or (include "moderation-streams.kafkaSaslSecret" .) (include "moderation-streams.kafkaTlsSecret" .) }}
- name: kafka-secrets
  mountPath: {{ include "moderation-streams.kafkaSecretsDir" . }}
  readOnly: true
{{- end }}
{{- if or (include "moderation-streams.redisPasswordSecret" .) (include "moderation-streams.redisTlsSecret" .) }}
- name: redis-secrets
  mountPath: {{ include "moderation-streams.redisSecretsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The secret volumes (list items of a pod's volumes). Mode 0400: the kubelet makes the files group-readable by
the pod's fsGroup (podSecurityContext.fsGroup, 10001), which is how the non-root worker reads them; nobody else
can. Only the listed keys are projected, under fixed names; a missing key keeps the pod from starting.
*/}}
{{- define "moderation-streams.secretVolumes" -}}
{{- $saslSecret := include "moderation-streams.kafkaSaslSecret" . -}}
{{- $kafkaTlsSecret := include "moderation-streams.kafkaTlsSecret" . -}}
{{- $kafkaTls := .Values.kafka.security.tls -}}
{{- $redisSecret := include "moderation-streams.redisPasswordSecret" . -}}
{{- $redisTlsSecret := include "moderation-streams.redisTlsSecret" . -}}
{{- $redisTls := .Values.redis.tls -}}
{{- if or $saslSecret $kafkaTlsSecret }}
- name: kafka-secrets
  projected:
    defaultMode: 256 # 0400
    sources:
      {{- if $saslSecret }}
      - secret:
          name: {{ $saslSecret }}
          items:
            - key: {{ .Values.kafka.security.sasl.passwordKey }}
              path: password
      {{- end }}
      {{- if $kafkaTlsSecret }}
      - secret:
          name: {{ $kafkaTlsSecret }}
          items:
            - key: {{ $kafkaTls.caKey }}
              path: ca.crt
            {{- if include "moderation-streams.kafkaClientCert" . }}
            - key: {{ $kafkaTls.certKey }}
              path: client.crt
            - key: {{ $kafkaTls.keyKey }}
              path: client.key
            {{- if $kafkaTls.keyPasswordKey }}
            - key: {{ $kafkaTls.keyPasswordKey }}
              path: client.key.password
            {{- end }}
            {{- end }}
      {{- end }}
{{- end }}
{{- if or $redisSecret $redisTlsSecret }}
- name: redis-secrets
  projected:
    defaultMode: 256 # 0400
    sources:
      {{- if $redisSecret }}
      - secret:
          name: {{ $redisSecret }}
          items:
            - key: {{ .Values.redis.passwordKey }}
              path: password
      {{- end }}
      {{- if $redisTlsSecret }}
      - secret:
          name: {{ $redisTlsSecret }}
          items:
            - key: {{ $redisTls.caKey }}
              path: ca.crt
            {{- if include "moderation-streams.redisClientCert" . }}
            - key: {{ $redisTls.certKey }}
              path: client.crt
            - key: {{ $redisTls.keyKey }}
              path: client.key
            {{- end }}
      {{- end }}
{{- end }}
{{- end -}}
