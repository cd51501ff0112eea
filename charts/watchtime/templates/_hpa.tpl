{{/*
Replica ownership and the HorizontalPodAutoscaler, shared by every scaled component. Every component
has the same shape: `replicas`, and `autoscaling.mode` (none | hpa, plus keda for the consumer) with
minReplicas/maxReplicas/targetCPUUtilizationPercentage. Arguments of every helper here:
(dict "ctx" $ "component" "api" "values" .Values.api)
*/}}

{{/*
Who owns the replica count: none (the Deployment's `replicas`), hpa or keda. The pre-0.2 key
`api.autoscaling.enabled: true` still means hpa for one release (NOTES.txt says so).
*/}}
{{- define "watchtime.scaler" -}}
{{- $a := .values.autoscaling -}}
{{- if and (eq $a.mode "none") $a.enabled -}}
hpa
{{- else -}}
{{- $a.mode -}}
{{- end -}}
{{- end -}}

{{/* Replicas the component runs with at least. */}}
{{- define "watchtime.minReplicas" -}}
{{- if eq (include "watchtime.scaler" .) "none" -}}
{{- .values.replicas -}}
{{- else -}}
{{- .values.autoscaling.minReplicas -}}
{{- end -}}
{{- end -}}

{{/* `replicas:` of the Deployment, only when no scaler owns it (a scaler and the chart would fight). */}}
{{- define "watchtime.replicas" -}}
{{- if eq (include "watchtime.scaler" .) "none" -}}
replicas: {{ .values.replicas }}
{{- end -}}
{{- end -}}

{{- define "watchtime.hpa" -}}
{{- if eq (include "watchtime.scaler" .) "hpa" }}
{{- $name := include "watchtime.componentName" (dict "ctx" .ctx "component" .component) -}}
{{- $a := .values.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "watchtime.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
  {{- with (include "watchtime.annotations" (dict "ctx" .ctx)) }}{{ . | nindent 2 }}{{ end }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}
