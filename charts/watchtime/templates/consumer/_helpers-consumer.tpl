{{/* The consumer container: metrics/probe port, environment and probes (no traffic, so no preStop). */}}
{{- define "watchtime.consumer.container" -}}
{{- $c := .Values.consumer -}}
- name: consumer
  image: {{ include "watchtime.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - consumer
  ports:
    - name: metrics
      containerPort: {{ $c.containerPorts.metrics }}
      protocol: TCP
  envFrom:
    {{- include "watchtime.envFrom" (dict "ctx" . "chartConfigMap" true) | nindent 4 }}
  env:
    {{- include "watchtime.env" (dict "ctx" . "own" (include "watchtime.consumer.ownEnv" .) "extra" $c.extraEnvVars "withBroker" true "withBootstrapKey" false) | nindent 4 }}
  {{- include "watchtime.probes" (dict "values" $c "port" "metrics") | nindent 2 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml $c.resources | nindent 4 }}
  volumeMounts:
    {{- include "watchtime.volumeMounts" . | nindent 4 }}
{{- end -}}

{{- define "watchtime.consumer.ownEnv" -}}
{{- $c := .Values.consumer -}}
- name: WATCHTIME_METRICS_PORT
  value: {{ $c.containerPorts.metrics | quote }}
- name: WATCHTIME_CONSUMER_PREFETCH
  value: {{ include "watchtime.intString" $c.prefetch }}
- name: WATCHTIME_CONSUMER_BATCH_SIZE
  value: {{ include "watchtime.intString" $c.batchSize }}
{{- end -}}
