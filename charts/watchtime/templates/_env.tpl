{{/* The environment of every container: the shared ConfigMap data, Secret-backed variables, user extras. */}}

{{- define "watchtime.allowedHosts" -}}
{{- $api := include "watchtime.componentName" (dict "ctx" . "component" "api") -}}
{{- $hosts := list "localhost" "127.0.0.1" $api (printf "%s.%s" $api .Release.Namespace) (printf "%s.%s.svc" $api .Release.Namespace) (printf "%s.%s.svc.cluster.local" $api .Release.Namespace) -}}
{{- if .Values.ingress.enabled -}}
{{- range .Values.ingress.hosts -}}
{{- if .host -}}{{- $hosts = append $hosts .host -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.httpRoute.enabled -}}
{{- range .Values.httpRoute.hostnames -}}{{- $hosts = append $hosts . -}}{{- end -}}
{{- end -}}
{{- concat $hosts .Values.config.allowedHosts | uniq | join "," -}}
{{- end -}}

{{/* An integer value as a quoted env value: Helm reads numbers as floats, which print 1000000 as 1e+06. */}}
{{- define "watchtime.intString" -}}
{{- . | int64 | toString | quote -}}
{{- end -}}

{{/* Environment shared by every role (non-secret), as a YAML map. withBroker=false leaves the broker out
(migrations, maintenance). The analytics definitions and the retention are here so that the API and
the consumers always use the same ones. */}}
{{- define "watchtime.configData" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
DATABASE_URL: {{ include "watchtime.databaseUrl" $ctx | quote }}
{{- if .withBroker }}
RABBITMQ_URL: {{ include "watchtime.rabbitmqUrl" $ctx | quote }}
{{- end }}
WATCHTIME_QUEUE: {{ $v.config.queue | quote }}
DJANGO_DEBUG: {{ $v.config.debug | toString | quote }}
DJANGO_ALLOWED_HOSTS: {{ include "watchtime.allowedHosts" $ctx | quote }}
DJANGO_CSRF_TRUSTED_ORIGINS: {{ join "," $v.config.csrfTrustedOrigins | quote }}
DJANGO_SECURE_SSL_REDIRECT: {{ $v.config.secureSslRedirect | toString | quote }}
WATCHTIME_AUTH: "true"
WATCHTIME_LOG_LEVEL: {{ $v.config.logLevel | quote }}
WATCHTIME_MAX_CREDIT_SECONDS: {{ include "watchtime.intString" $v.config.maxCreditSeconds }}
WATCHTIME_MAX_STEP_SECONDS: {{ include "watchtime.intString" $v.config.maxStepSeconds }}
WATCHTIME_RATE_LIMIT: {{ $v.config.rateLimit | quote }}
{{- with $v.config.eventRetentionDays }}
WATCHTIME_EVENT_RETENTION_DAYS: {{ include "watchtime.intString" . }}
{{- end }}
{{- with $v.config.analytics }}
WATCHTIME_VIEW_GAP_SECONDS: {{ include "watchtime.intString" .viewGapSeconds }}
WATCHTIME_VIEW_MIN_SECONDS: {{ include "watchtime.intString" .viewMinSeconds }}
WATCHTIME_COMPLETION_RATIO: {{ .completionRatio | toString | quote }}
WATCHTIME_COMPLETED_PERCENT: {{ include "watchtime.intString" .completedPercent }}
WATCHTIME_RETENTION_RESOLUTION_SECONDS: {{ include "watchtime.intString" .retentionResolutionSeconds }}
WATCHTIME_LIVE_WINDOW_SECONDS: {{ include "watchtime.intString" .liveWindowSeconds }}
WATCHTIME_CONCURRENCY_MINUTE_DAYS: {{ include "watchtime.intString" .concurrencyMinuteDays }}
WATCHTIME_TIME_ZONE: {{ .timeZone | quote }}
{{- end }}
{{- if $v.bootstrapApiKey.enabled }}
WATCHTIME_BOOTSTRAP_API_KEY_SCOPES: {{ join "," $v.bootstrapApiKey.scopes | quote }}
{{- end }}
{{- end -}}

{{/* The shared configuration without the broker, as env entries (a YAML list), for the pods that take
it inline instead of from the ConfigMap: the migrations (at pre-install the ConfigMap does not exist
yet) and the maintenance (which must not get the broker's URL). */}}
{{- define "watchtime.inlineConfigEnv" -}}
{{- $entries := list -}}
{{- range $key, $value := include "watchtime.configData" (dict "ctx" . "withBroker" false) | fromYaml -}}
{{- $entries = append $entries (dict "name" $key "value" (toString $value)) -}}
{{- end -}}
{{- toYaml $entries -}}
{{- end -}}

{{/* env entry reading a Secret key: (dict "name" "DATABASE_PASSWORD" "ref" (dict "name" .. "key" ..)) */}}
{{- define "watchtime.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name | quote }}
      key: {{ .ref.key | quote }}
{{- end -}}

{{/*
Secret-backed env of a role: (dict "ctx" $ "withBroker" bool "withBootstrapKey" bool "generatedSecret" name).
generatedSecret is the Secret holding the generated values (default: the chart's; the migrations
hook reads its own copy of them).
*/}}
{{- define "watchtime.secretEnvVars" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $generated := default (include "watchtime.secretName" $ctx) .generatedSecret -}}
{{- $secretKeyRef := include "watchtime.secretKeyRef" $ctx | fromJson -}}
{{- if not $v.secretKey.existingSecret -}}
{{- $_ := set $secretKeyRef "name" $generated -}}
{{- end -}}
{{ include "watchtime.secretEnv" (dict "name" "DJANGO_SECRET_KEY" "ref" $secretKeyRef) }}
{{- if $v.liveTokenKey.existingSecret }}
{{ include "watchtime.secretEnv" (dict "name" "WATCHTIME_LIVE_TOKEN_KEY" "ref" (dict "name" $v.liveTokenKey.existingSecret "key" $v.liveTokenKey.existingSecretKey)) }}
{{- else }}
{{ include "watchtime.secretEnv" (dict "name" "WATCHTIME_LIVE_TOKEN_KEY" "ref" (dict "name" $generated "key" "live-token-key")) }}
{{- end }}
{{- $db := include "watchtime.database" $ctx | fromJson }}
{{- if $db.usernameRef }}
{{ include "watchtime.secretEnv" (dict "name" "DATABASE_USER" "ref" $db.usernameRef) }}
{{- else }}
- name: DATABASE_USER
  value: {{ $db.username | quote }}
{{- end }}
{{ include "watchtime.secretEnv" (dict "name" "DATABASE_PASSWORD" "ref" $db.passwordRef) }}
{{- if .withBroker }}
{{- $mq := include "watchtime.rabbitmq" $ctx | fromJson }}
{{- if $mq.usernameRef }}
{{ include "watchtime.secretEnv" (dict "name" "RABBITMQ_USERNAME" "ref" $mq.usernameRef) }}
{{- else }}
- name: RABBITMQ_USERNAME
  value: {{ $mq.username | quote }}
{{- end }}
{{ include "watchtime.secretEnv" (dict "name" "RABBITMQ_PASSWORD" "ref" $mq.passwordRef) }}
{{- end }}
{{- if and .withBootstrapKey $v.bootstrapApiKey.enabled }}
{{- if $v.bootstrapApiKey.existingSecret }}
{{ include "watchtime.secretEnv" (dict "name" "WATCHTIME_BOOTSTRAP_API_KEY" "ref" (dict "name" $v.bootstrapApiKey.existingSecret "key" $v.bootstrapApiKey.existingSecretKey)) }}
{{- else }}
{{ include "watchtime.secretEnv" (dict "name" "WATCHTIME_BOOTSTRAP_API_KEY" "ref" (dict "name" $generated "key" "bootstrap-api-key")) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
envFrom of a container: the chart ConfigMap (unless chartConfigMap is false: the migrations hook
inlines it, since at pre-install it does not exist yet) plus the user's extras.
(dict "ctx" $ "chartConfigMap" bool)
*/}}
{{- define "watchtime.envFrom" -}}
{{- if .chartConfigMap }}
- configMapRef:
    name: {{ include "watchtime.fullname" .ctx }}
{{- end }}
{{- with .ctx.Values.extraEnvVarsConfigMap }}
- configMapRef:
    name: {{ . | quote }}
{{- end }}
{{- with .ctx.Values.extraEnvVarsSecret }}
- secretRef:
    name: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
env of a container: its own entries (a YAML list as text), the Secret-backed variables, the global
extraEnvVars and the component's own extras, in that order (later entries win in Kubernetes).
(dict "ctx" $ "own" text "extra" list "withBroker" bool "withBootstrapKey" bool ...secretEnvVars options)
*/}}
{{- define "watchtime.env" -}}
{{- with .own }}
{{ . }}
{{- end }}
{{ include "watchtime.secretEnvVars" (dict "ctx" .ctx "withBroker" .withBroker "withBootstrapKey" .withBootstrapKey "generatedSecret" .generatedSecret) }}
{{- with .ctx.Values.extraEnvVars }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}
