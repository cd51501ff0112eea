{{/* The API container (gunicorn): ports, environment, probes and its shutdown delay. */}}
{{- define "watchtime.api.container" -}}
{{- $c := .Values.api -}}
- name: api
  image: {{ include "watchtime.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - api
  ports:
    - name: http
      containerPort: {{ $c.containerPorts.http }}
      protocol: TCP
    - name: metrics
      containerPort: {{ $c.containerPorts.metrics }}
      protocol: TCP
  envFrom:
    {{- include "watchtime.envFrom" (dict "ctx" . "chartConfigMap" true) | nindent 4 }}
  env:
    {{- include "watchtime.env" (dict "ctx" . "own" (include "watchtime.api.ownEnv" .) "extra" $c.extraEnvVars "withBroker" true "withBootstrapKey" true) | nindent 4 }}
  {{- include "watchtime.probes" (dict "values" $c "port" "http") | nindent 2 }}
  lifecycle:
    preStop:
      # Keep serving while endpoint removal propagates; SIGTERM follows (timing in values.yaml).
      exec:
        command: ["sleep", "{{ $c.preStopSleepSeconds }}"]
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml $c.resources | nindent 4 }}
  volumeMounts:
    {{- include "watchtime.volumeMounts" . | nindent 4 }}
{{- end -}}

{{- define "watchtime.api.ownEnv" -}}
{{- $c := .Values.api -}}
- name: PORT
  value: {{ $c.containerPorts.http | quote }}
- name: WATCHTIME_METRICS_PORT
  value: {{ $c.containerPorts.metrics | quote }}
- name: WEB_CONCURRENCY
  value: {{ $c.webConcurrency | quote }}
- name: GUNICORN_THREADS
  value: {{ $c.threads | quote }}
- name: GUNICORN_GRACEFUL_TIMEOUT
  value: {{ $c.gracefulTimeoutSeconds | quote }}
# gunicorn workers share metrics through files here (on the /tmp emptyDir); only the API uses
# multiprocess mode, so the other roles do not get it.
- name: PROMETHEUS_MULTIPROC_DIR
  value: /tmp/watchtime-prometheus
{{- with include "watchtime.databaseReadUrl" . }}
# The read endpoints go to the replica; credentials are DATABASE_USER/DATABASE_PASSWORD as for the primary.
- name: DATABASE_READ_URL
  value: {{ . | quote }}
{{- end }}
{{- with $c.cors.allowedOrigins }}
- name: WATCHTIME_CORS_ALLOWED_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- end -}}
