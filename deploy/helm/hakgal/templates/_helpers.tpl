{{/* Names and labels shared by every object of the chart. */}}
{{- define "hakgal.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hakgal.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hakgal.labels" -}}
{{ include "hakgal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Replicas: 1 in single mode; at least 2 (a writer and a follower) when
     replicated through Kafka. */}}
{{- define "hakgal.replicas" -}}
{{- if eq .Values.mode "single" -}}
1
{{- else if eq .Values.mode "replicated" -}}
{{- $_ := required "kafka.brokers is required in replicated mode" .Values.kafka.brokers -}}
{{- max 2 (int .Values.replicaCount) -}}
{{- else -}}
{{- fail (printf "mode must be single or replicated, not %q" .Values.mode) -}}
{{- end -}}
{{- end -}}

{{- define "hakgal.tokenSecret" -}}
{{- if .Values.tokens.existingSecret -}}
{{- .Values.tokens.existingSecret -}}
{{- else if .Values.tokens.items -}}
{{- printf "%s-tokens" (include "hakgal.fullname" .) -}}
{{- else -}}
{{- fail "tokens.items or tokens.existingSecret is required: hakgal listens beyond loopback only with tokens" -}}
{{- end -}}
{{- end -}}
