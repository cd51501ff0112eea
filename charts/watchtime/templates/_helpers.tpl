{{/* ---------- Names and labels ---------- */}}

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

{{/* ---------- Image (one image for every role) ---------- */}}

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

{{/* ---------- Dependencies ---------- */}}

{{/* Object name a CloudPirates subchart gives itself: (dict "ctx" $ "chart" "postgres" "values" .Values.postgres) */}}
{{- define "watchtime.subchartFullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .chart .values.nameOverride -}}
{{- if contains $name .ctx.Release.Name -}}
{{- .ctx.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .ctx.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "watchtime.rabbitmqClusterName" -}}
{{- include "watchtime.componentName" (dict "ctx" . "component" "rabbitmq") -}}
{{- end -}}

{{/*
Where the broker's rabbitmq_prometheus plugin is scraped, as JSON: namespace, selector (matchLabels
of the Service, or of the pods with a PodMonitor; both carry the same labels), port (its name) and
service (the one Service to keep when a headless sibling carries the same labels; empty when the
selector alone decides). "{}" when no broker is to be scraped. The labels and port names are the
ones the CloudPirates chart and the RabbitMQ Cluster Operator give their objects.
*/}}
{{- define "watchtime.brokerMetricsTarget" -}}
{{- $broker := .Values.metrics.broker -}}
{{- $target := dict -}}
{{- if and .Values.rabbitmq.enabled $broker.enabled -}}
{{- /* cloudpirates.selectorLabels: chart name (or nameOverride) and release, overridable by the subchart's commonLabels. */ -}}
{{- $labels := dict "app.kubernetes.io/name" (default "rabbitmq" .Values.rabbitmq.nameOverride | trunc 63 | trimSuffix "-") "app.kubernetes.io/instance" .Release.Name -}}
{{- $labels = merge (pick (default dict .Values.rabbitmq.commonLabels) "app.kubernetes.io/name" "app.kubernetes.io/instance") $labels -}}
{{- $_ := set $target "selector" $labels -}}
{{- $_ := set $target "service" (include "watchtime.subchartFullname" (dict "ctx" . "chart" "rabbitmq" "values" .Values.rabbitmq)) -}}
{{- $_ := set $target "namespace" .Release.Namespace -}}
{{- $_ := set $target "port" "prometheus" -}}
{{- else if and .Values.rabbitmqCluster.enabled $broker.enabled -}}
{{- /* The operator labels its Services and pods app.kubernetes.io/name=<cluster>, component=rabbitmq. */ -}}
{{- $name := include "watchtime.rabbitmqClusterName" . -}}
{{- $_ := set $target "selector" (dict "app.kubernetes.io/name" $name "app.kubernetes.io/component" "rabbitmq") -}}
{{- $_ := set $target "service" $name -}}
{{- $_ := set $target "namespace" .Release.Namespace -}}
{{- $_ := set $target "port" "prometheus" -}}
{{- else if and .Values.externalRabbitmq.host $broker.external.enabled -}}
{{- $_ := set $target "selector" $broker.external.selector -}}
{{- $_ := set $target "service" "" -}}
{{- $_ := set $target "namespace" (default .Release.Namespace $broker.external.namespace) -}}
{{- $_ := set $target "port" $broker.external.port -}}
{{- end -}}
{{- toJson $target -}}
{{- end -}}

{{/*
Resolved database connection as JSON: host, port, database, username (value) or usernameRef,
passwordRef ({name, key}).
*/}}
{{- define "watchtime.database" -}}
{{- $db := dict -}}
{{- if .Values.postgres.enabled -}}
{{- $pg := include "watchtime.subchartFullname" (dict "ctx" . "chart" "postgres" "values" .Values.postgres) -}}
{{- $_ := set $db "host" $pg -}}
{{- $_ := set $db "port" 5432 -}}
{{- $_ := set $db "database" .Values.postgres.customUser.database -}}
{{- $_ := set $db "username" .Values.postgres.customUser.name -}}
{{- /* The subchart's own Secret, or the one handed to it with postgres.customUser.existingSecret. */ -}}
{{- $pgSecret := dig "customUser" "existingSecret" "" .Values.postgres | default (printf "%s-custom-user-credentials" $pg) -}}
{{- $pgKey := dig "customUser" "secretKeys" "password" "" .Values.postgres | default "CUSTOM_PASSWORD" -}}
{{- $_ := set $db "passwordRef" (dict "name" $pgSecret "key" $pgKey) -}}
{{- else -}}
{{- $ext := .Values.externalDatabase -}}
{{- $_ := set $db "host" $ext.host -}}
{{- $_ := set $db "port" $ext.port -}}
{{- $_ := set $db "database" $ext.database -}}
{{- if $ext.existingSecretUsernameKey -}}
{{- $_ := set $db "usernameRef" (dict "name" $ext.existingSecret "key" $ext.existingSecretUsernameKey) -}}
{{- else -}}
{{- $_ := set $db "username" $ext.username -}}
{{- end -}}
{{- $_ := set $db "passwordRef" (dict "name" $ext.existingSecret "key" $ext.existingSecretPasswordKey) -}}
{{- end -}}
{{- toJson $db -}}
{{- end -}}

{{/* Resolved broker connection as JSON: host, port, vhost, username or usernameRef, passwordRef. */}}
{{- define "watchtime.rabbitmq" -}}
{{- $mq := dict -}}
{{- if .Values.rabbitmq.enabled -}}
{{- $name := include "watchtime.subchartFullname" (dict "ctx" . "chart" "rabbitmq" "values" .Values.rabbitmq) -}}
{{- $_ := set $mq "host" $name -}}
{{- $_ := set $mq "port" 5672 -}}
{{- $_ := set $mq "vhost" "/" -}}
{{- $_ := set $mq "username" .Values.rabbitmq.auth.username -}}
{{- if .Values.rabbitmq.auth.existingSecret -}}
{{- $_ := set $mq "passwordRef" (dict "name" .Values.rabbitmq.auth.existingSecret "key" .Values.rabbitmq.auth.existingPasswordKey) -}}
{{- else -}}
{{- $_ := set $mq "passwordRef" (dict "name" $name "key" "password") -}}
{{- end -}}
{{- else if .Values.rabbitmqCluster.enabled -}}
{{- $name := include "watchtime.rabbitmqClusterName" . -}}
{{- $_ := set $mq "host" (printf "%s.%s.svc" $name .Release.Namespace) -}}
{{- $_ := set $mq "port" 5672 -}}
{{- $_ := set $mq "vhost" "/" -}}
{{- $_ := set $mq "usernameRef" (dict "name" (printf "%s-default-user" $name) "key" "username") -}}
{{- $_ := set $mq "passwordRef" (dict "name" (printf "%s-default-user" $name) "key" "password") -}}
{{- else -}}
{{- $ext := .Values.externalRabbitmq -}}
{{- $_ := set $mq "host" $ext.host -}}
{{- $_ := set $mq "port" $ext.port -}}
{{- $_ := set $mq "vhost" $ext.vhost -}}
{{- if $ext.existingSecretUsernameKey -}}
{{- $_ := set $mq "usernameRef" (dict "name" $ext.existingSecret "key" $ext.existingSecretUsernameKey) -}}
{{- else -}}
{{- $_ := set $mq "username" $ext.username -}}
{{- end -}}
{{- $_ := set $mq "passwordRef" (dict "name" $ext.existingSecret "key" $ext.existingSecretPasswordKey) -}}
{{- end -}}
{{- toJson $mq -}}
{{- end -}}

{{/* Credentials stay out of the URLs; DATABASE_USER/PASSWORD and RABBITMQ_USERNAME/PASSWORD carry them. */}}
{{- define "watchtime.databaseUrl" -}}
{{- $db := include "watchtime.database" . | fromJson -}}
{{- printf "postgres://%s:%v/%s" $db.host $db.port $db.database -}}
{{- end -}}

{{- define "watchtime.rabbitmqUrl" -}}
{{- $mq := include "watchtime.rabbitmq" . | fromJson -}}
{{- printf "amqp://%s:%v/%s" $mq.host $mq.port (urlquery $mq.vhost) -}}
{{- end -}}

{{/* ---------- Configuration ---------- */}}

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

{{/* Environment shared by every role (non-secret), as a YAML map. withBroker=false leaves the broker out (migrations). */}}
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
WATCHTIME_MAX_CREDIT_SECONDS: {{ $v.config.maxCreditSeconds | toString | quote }}
WATCHTIME_MAX_STEP_SECONDS: {{ $v.config.maxStepSeconds | toString | quote }}
WATCHTIME_RATE_LIMIT: {{ $v.config.rateLimit | quote }}
{{- if $v.bootstrapApiKey.enabled }}
WATCHTIME_BOOTSTRAP_API_KEY_SCOPES: {{ join "," $v.bootstrapApiKey.scopes | quote }}
{{- end }}
{{- end -}}

{{/* env entry reading a Secret key: (dict "name" "DATABASE_PASSWORD" "ref" (dict "name" .. "key" ..)) */}}
{{- define "watchtime.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name | quote }}
      key: {{ .ref.key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
Secret-backed env of a role: (dict "ctx" $ "withBroker" bool "withBootstrapKey" bool "secretKeyRef" dict-or-nil
"optionalBootstrapKey" bool).
secretKeyRef overrides where DJANGO_SECRET_KEY comes from (the migrations hook Secret).
*/}}
{{- define "watchtime.secretEnvVars" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $secretKeyRef := .secretKeyRef -}}
{{- if not $secretKeyRef -}}
{{- if $v.secretKey.existingSecret -}}
{{- $secretKeyRef = dict "name" $v.secretKey.existingSecret "key" $v.secretKey.existingSecretKey -}}
{{- else -}}
{{- $secretKeyRef = dict "name" (include "watchtime.secretName" $ctx) "key" "django-secret-key" -}}
{{- end -}}
{{- end -}}
{{ include "watchtime.secretEnv" (dict "name" "DJANGO_SECRET_KEY" "ref" $secretKeyRef) }}
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
{{- /* optional: a pre-upgrade migrations hook runs before a newly enabled key reaches the Secret. */}}
{{ include "watchtime.secretEnv" (dict "name" "WATCHTIME_BOOTSTRAP_API_KEY" "ref" (dict "name" (include "watchtime.secretName" $ctx) "key" "bootstrap-api-key") "optional" .optionalBootstrapKey) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* envFrom of the long-running roles: the chart ConfigMap plus the user's extras. */}}
{{- define "watchtime.envFrom" -}}
- configMapRef:
    name: {{ include "watchtime.fullname" . }}
{{- with .Values.extraEnvVarsConfigMap }}
- configMapRef:
    name: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnvVarsSecret }}
- secretRef:
    name: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Rolls pods when configuration or generated secrets change. */}}
{{- define "watchtime.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* ---------- Pod building blocks ---------- */}}

{{/* Pod-level spec shared by every pod: (dict "ctx" $ "component" "api" "values" .Values.api) */}}
{{- define "watchtime.podSpecCommon" -}}
{{- $v := .ctx.Values -}}
{{- $c := default dict .values -}}
serviceAccountName: {{ include "watchtime.serviceAccountName" .ctx }}
automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
enableServiceLinks: false
{{- with $v.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . | quote }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with (default $v.priorityClassName $c.priorityClassName) }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with (default $v.nodeSelector $c.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $v.tolerations $c.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $v.affinity $c.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range $c.topologySpreadConstraints }}
  {{- $constraint := deepCopy . }}
  {{- if not $constraint.labelSelector }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "watchtime.componentSelectorLabels" (dict "ctx" $.ctx "component" $.component) | fromYaml)) }}
  {{- end }}
  - {{- toYaml $constraint | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Volumes of every pod: a writable /tmp (read-only root filesystem) plus extras. */}}
{{- define "watchtime.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "watchtime.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Probe from values: (dict "probe" .Values.api.livenessProbe "custom" .Values.api.customLivenessProbe "path" "/livez" "port" "http") */}}
{{- define "watchtime.probe" -}}
{{- if .custom -}}
{{ toYaml .custom }}
{{- else -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
  httpHeaders:
    # Django validates Host against ALLOWED_HOSTS; the kubelet would send the pod IP.
    - name: Host
      value: localhost
{{ omit .probe "enabled" | toYaml }}
{{- end -}}
{{- end -}}

{{/* Init container that blocks until `watchtime migrate --check` passes. */}}
{{- define "watchtime.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "watchtime.image" .ctx }}
  imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
  command:
    - sh
    - -c
    - until watchtime migrate --check; do echo "waiting for database migrations"; sleep {{ .ctx.Values.waitForMigrations.intervalSeconds }}; done
  envFrom:
    {{- include "watchtime.envFrom" .ctx | nindent 4 }}
  env:
    {{- include "watchtime.secretEnvVars" (dict "ctx" .ctx "withBroker" false "withBootstrapKey" false) | nindent 4 }}
    {{- with .ctx.Values.extraEnvVars }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- toYaml .ctx.Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .ctx.Values.waitForMigrations.resources | nindent 4 }}
  volumeMounts:
    {{- include "watchtime.volumeMounts" .ctx | nindent 4 }}
{{- end -}}

{{/* Replicas a component runs with at least (PDB only makes sense above one). */}}
{{- define "watchtime.apiMinReplicas" -}}
{{- if .Values.api.autoscaling.enabled -}}{{ .Values.api.autoscaling.minReplicas }}{{- else -}}{{ .Values.api.replicas }}{{- end -}}
{{- end -}}

{{- define "watchtime.consumerMinReplicas" -}}
{{- if eq .Values.consumer.autoscaling.mode "none" -}}{{ .Values.consumer.replicas }}{{- else -}}{{ .Values.consumer.autoscaling.minReplicas }}{{- end -}}
{{- end -}}

{{/* ---------- Value checks that the schema cannot express ---------- */}}
{{- define "watchtime.validate" -}}
{{- $v := .Values -}}
{{- $dbSources := 0 -}}
{{- if $v.postgres.enabled }}{{ $dbSources = add1 $dbSources }}{{ end -}}
{{- if $v.externalDatabase.host }}{{ $dbSources = add1 $dbSources }}{{ end -}}
{{- if ne (int $dbSources) 1 -}}
{{- fail "watchtime: set exactly one database: postgres.enabled=true (all-in-one) or externalDatabase.host (with postgres.enabled=false)" -}}
{{- end -}}
{{- if and $v.externalDatabase.host (not $v.externalDatabase.existingSecret) -}}
{{- fail "watchtime: externalDatabase.existingSecret is required (the chart holds no database passwords)" -}}
{{- end -}}
{{- $mqSources := 0 -}}
{{- if $v.rabbitmq.enabled }}{{ $mqSources = add1 $mqSources }}{{ end -}}
{{- if $v.rabbitmqCluster.enabled }}{{ $mqSources = add1 $mqSources }}{{ end -}}
{{- if $v.externalRabbitmq.host }}{{ $mqSources = add1 $mqSources }}{{ end -}}
{{- if ne (int $mqSources) 1 -}}
{{- fail "watchtime: set exactly one broker: rabbitmq.enabled=true (all-in-one), rabbitmqCluster.enabled=true (operator) or externalRabbitmq.host (with rabbitmq.enabled=false)" -}}
{{- end -}}
{{- if and $v.externalRabbitmq.host (not $v.externalRabbitmq.existingSecret) -}}
{{- fail "watchtime: externalRabbitmq.existingSecret is required (the chart holds no broker passwords)" -}}
{{- end -}}
{{- if gt (add $v.api.preStopSleepSeconds $v.api.gracefulTimeoutSeconds 5) (int $v.api.terminationGracePeriodSeconds) -}}
{{- fail (printf "watchtime: api.preStopSleepSeconds + api.gracefulTimeoutSeconds + 5 (%d) must not exceed api.terminationGracePeriodSeconds (%d)" (add $v.api.preStopSleepSeconds $v.api.gracefulTimeoutSeconds 5 | int) (int $v.api.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled $v.metrics.podMonitor.enabled -}}
{{- fail "watchtime: enable either metrics.serviceMonitor or metrics.podMonitor, not both (every target would be scraped twice)" -}}
{{- end -}}
{{- $monitors := or $v.metrics.serviceMonitor.enabled $v.metrics.podMonitor.enabled -}}
{{- if and $monitors $v.rabbitmq.enabled $v.metrics.broker.enabled (not $v.rabbitmq.metrics.enabled) -}}
{{- fail "watchtime: metrics.broker.enabled scrapes the rabbitmq subchart's port prometheus, which exists only with rabbitmq.metrics.enabled=true (or set metrics.broker.enabled=false)" -}}
{{- end -}}
{{- if and $v.metrics.broker.external.enabled (not $v.externalRabbitmq.host) -}}
{{- fail "watchtime: metrics.broker.external is for an external broker (externalRabbitmq.host); the in-cluster broker is scraped with metrics.broker.enabled" -}}
{{- end -}}
{{- if and $v.metrics.broker.external.enabled (not $v.metrics.broker.external.selector) -}}
{{- fail "watchtime: metrics.broker.external.enabled needs metrics.broker.external.selector (labels of the broker's Service or pods); an empty selector would scrape everything in the namespace" -}}
{{- end -}}
{{- if and (eq $v.consumer.autoscaling.mode "hpa") (lt (int $v.consumer.autoscaling.minReplicas) 1) -}}
{{- fail "watchtime: consumer.autoscaling.minReplicas must be at least 1 with mode hpa (only KEDA scales to zero)" -}}
{{- end -}}
{{- if eq $v.api.containerPorts.http $v.api.containerPorts.metrics -}}
{{- fail "watchtime: api.containerPorts.http and api.containerPorts.metrics must differ (metrics stay off the API port)" -}}
{{- end -}}
{{- end -}}

{{/* A fresh API key in the format `watchtime createkey` prints. */}}
{{- define "watchtime.newApiKey" -}}
{{- printf "wt_%s_%s" (randAlphaNum 8 | lower) (randAlphaNum 40) -}}
{{- end -}}

{{/*
Helm hook events of the migrations Job. pre-install only works when the Job needs nothing the
install itself creates: the in-cluster database, or a generated bootstrap API key (`watchtime
migrate` ensures that key, and it lives in the release Secret). Otherwise the install runs it
post-install, while the pods wait in their init container.
*/}}
{{- define "watchtime.migrationsHookEvents" -}}
{{- $generatedBootstrapKey := and .Values.bootstrapApiKey.enabled (not .Values.bootstrapApiKey.existingSecret) -}}
{{- if or .Values.postgres.enabled $generatedBootstrapKey -}}
post-install,pre-upgrade
{{- else -}}
pre-install,pre-upgrade
{{- end -}}
{{- end -}}

{{/* The migrations hook brings its own DJANGO_SECRET_KEY when it runs before the release Secret exists. */}}
{{- define "watchtime.migrationsHookSecret" -}}
{{- if and .Values.migrations.enabled .Values.migrations.useHelmHooks (not .Values.secretKey.existingSecret) (hasPrefix "pre-install" (include "watchtime.migrationsHookEvents" .)) -}}
true
{{- end -}}
{{- end -}}
