{{- define "cdrflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{- define "cdrflow.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cdrflow.labels" -}}
{{ include "cdrflow.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cdrflow.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
{{- end }}

{{/* Connection settings as env: the Secret is referenced by name, its values never pass through Helm. */}}
{{- define "cdrflow.env" -}}
{{ include "cdrflow.kafkaEnv" . }}
{{ include "cdrflow.clickhouseEnv" . }}
{{- end }}

{{- define "cdrflow.kafkaEnv" -}}
- name: CDRFLOW_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required" .Values.kafka.bootstrap | quote }}
{{- if ne .Values.kafka.securityProtocol "PLAINTEXT" }}
- name: CDRFLOW_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- end }}
{{- with .Values.kafka.sasl.existingSecret }}
- name: CDRFLOW_KAFKA_SASL_MECHANISM
  value: {{ $.Values.kafka.sasl.mechanism | quote }}
- name: CDRFLOW_KAFKA_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.kafka.sasl.usernameKey | quote }}}
- name: CDRFLOW_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.kafka.sasl.passwordKey | quote }}}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: CDRFLOW_KAFKA_SSL_CA_FILE
  value: /etc/cdrflow/kafka-ca/ca.crt
{{- end }}
{{- end }}

{{- define "cdrflow.clickhouseEnv" -}}
- name: CDRFLOW_CLICKHOUSE_URL
  value: {{ required "clickhouse.url is required" .Values.clickhouse.url | quote }}
- name: CDRFLOW_CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
{{- with .Values.clickhouse.cluster }}
- name: CDRFLOW_CLICKHOUSE_CLUSTER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.clickhouse.auth.existingSecret }}
- name: CDRFLOW_CLICKHOUSE_USER
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.clickhouse.auth.userKey | quote }}}
- name: CDRFLOW_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.clickhouse.auth.passwordKey | quote }}}
{{- end }}
{{- end }}

{{/* A values map as TOML: scalars and lists first (JSON literals are valid TOML), then sub-tables. */}}
{{- define "cdrflow.toml" -}}
{{- $prefix := .prefix -}}
{{- range $key, $value := .table }}
{{- if not (kindIs "map" $value) }}
{{ toJson $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- range $key, $value := .table }}
{{- if kindIs "map" $value }}

[{{ $prefix }}{{ toJson $key }}]
{{- include "cdrflow.toml" (dict "prefix" (printf "%s%s." $prefix (toJson $key)) "table" $value) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cdrflow.podSecurity" -}}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The Kafka CA, when one is configured: the volume and where the env above expects it. */}}
{{- define "cdrflow.kafkaCaMount" -}}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/cdrflow/kafka-ca, readOnly: true}
{{- end }}
{{- end }}

{{- define "cdrflow.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret | quote }}
    items: [{key: {{ .Values.kafka.tls.caKey | quote }}, path: ca.crt}]
{{- end }}
{{- end }}

{{/* nodeSelector / tolerations / affinity of a component's values (worker, producers). */}}
{{- define "cdrflow.scheduling" -}}
{{- range $field := list "nodeSelector" "tolerations" "affinity" }}
{{- with index $ $field }}
{{ $field }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}
