{{/*
PodDisruptionBudget of a component, rendered only when it runs more than one replica at least (with
one, maxUnavailable 1 would block nothing and 0 would block every node drain).
(dict "ctx" $ "component" "api" "values" .Values.api)
*/}}
{{- define "watchtime.pdb" -}}
{{- if and .values.pdb.enabled (gt (include "watchtime.minReplicas" . | int) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "watchtime.componentName" (dict "ctx" .ctx "component" .component) }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "watchtime.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
  {{- with (include "watchtime.annotations" (dict "ctx" .ctx)) }}{{ . | nindent 2 }}{{ end }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "watchtime.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}
