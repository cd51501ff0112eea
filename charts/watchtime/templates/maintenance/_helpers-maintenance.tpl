{{/* The maintenance CronJob: its name, and the pod that runs `watchtime maintain`. */}}

{{/*
Name of the CronJob. The CronJob controller names each Job `<cronjob>-<scheduled time in minutes>`
(11 characters more) and a Job's name is a label value of its pods (at most 63), so the API server
refuses CronJob names over 52: the full name is cut to 40.
*/}}
{{- define "watchtime.maintenance.name" -}}
{{- printf "%s-maintenance" (include "watchtime.fullname" . | trunc 40 | trimSuffix "-") -}}
{{- end -}}

{{/*
Pod spec of a run: the same pod building blocks as every pod (hardening, scheduling, /tmp), the
wait-for-migrations init container, and the database wiring of the migrations Job: the
configuration inlined without the broker, the database credentials and the secret key, nothing else.
*/}}
{{- define "watchtime.maintenance.podSpec" -}}
{{- $m := .Values.maintenance -}}
{{ include "watchtime.podSpecCommon" (dict "ctx" . "component" "maintenance" "values" $m) }}
restartPolicy: Never
{{- if and .Values.migrations.enabled .Values.waitForMigrations.enabled }}
initContainers:
  {{- include "watchtime.waitForMigrations" (dict "ctx" .) | nindent 2 }}
{{- end }}
containers:
  - name: maintain
    image: {{ include "watchtime.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args:
      - maintain
    {{- with (include "watchtime.envFrom" (dict "ctx" . "chartConfigMap" false)) }}
    envFrom:
      {{- . | nindent 6 }}
    {{- end }}
    env:
      {{- include "watchtime.env" (dict "ctx" . "own" (include "watchtime.inlineConfigEnv" .) "withBroker" false "withBootstrapKey" false) | nindent 6 }}
    securityContext:
      {{- toYaml .Values.containerSecurityContext | nindent 6 }}
    resources:
      {{- toYaml $m.resources | nindent 6 }}
    volumeMounts:
      {{- include "watchtime.volumeMounts" . | nindent 6 }}
volumes:
  {{- include "watchtime.volumes" . | nindent 2 }}
{{- end -}}
