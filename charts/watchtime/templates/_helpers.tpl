{{/* Names, labels, annotations and the image: what every object of the chart carries. */}}

{{- define "watchtime.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "watchtime.fullname" -}}
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

{{/* Object name of one component: (dict "ctx" $ "component" "api") */}}
{{- define "watchtime.componentName" -}}
{{- printf "%s-%s" (include "watchtime.fullname" .ctx | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "watchtime.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "watchtime.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watchtime.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "watchtime.labels" -}}
helm.sh/chart: {{ include "watchtime.chart" . }}
{{ include "watchtime.selectorLabels" . }}
app.kubernetes.io/version: {{ include "watchtime.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: watchtime
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "api") */}}
{{- define "watchtime.componentSelectorLabels" -}}
{{ include "watchtime.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "watchtime.componentLabels" -}}
{{ include "watchtime.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations body from commonAnnotations merged with extra: (dict "ctx" $ "extra" dict) */}}
{{- define "watchtime.annotations" -}}
{{- $merged := merge (deepCopy (default dict .extra)) (deepCopy .ctx.Values.commonAnnotations) -}}
{{- with $merged -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* One image runs every role. */}}
{{- define "watchtime.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "watchtime.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "watchtime.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "watchtime.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "watchtime.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret (generated keys). */}}
{{- define "watchtime.secretName" -}}
{{- include "watchtime.fullname" . -}}
{{- end -}}
