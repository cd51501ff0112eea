{{/* Pod building blocks shared by every pod the chart runs (api, consumer, migrations, helm test). */}}

{{/* Pod-level spec shared by every pod: (dict "ctx" $ "component" "api" "values" .Values.api ["serviceAccountName" name]) */}}
{{- define "watchtime.podSpecCommon" -}}
{{- $v := .ctx.Values -}}
{{- $c := default dict .values -}}
serviceAccountName: {{ default (include "watchtime.serviceAccountName" .ctx) .serviceAccountName }}
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
{{/* The three probes of a container from its values: (dict "values" .Values.api "port" "http") */}}
{{- define "watchtime.probes" -}}
{{- $c := .values -}}
{{- if $c.startupProbe.enabled }}
startupProbe:
  {{- include "watchtime.probe" (dict "probe" $c.startupProbe "custom" $c.customStartupProbe "path" "/livez" "port" .port) | nindent 2 }}
{{- end }}
{{- if $c.livenessProbe.enabled }}
livenessProbe:
  {{- include "watchtime.probe" (dict "probe" $c.livenessProbe "custom" $c.customLivenessProbe "path" "/livez" "port" .port) | nindent 2 }}
{{- end }}
{{- if $c.readinessProbe.enabled }}
readinessProbe:
  {{- include "watchtime.probe" (dict "probe" $c.readinessProbe "custom" $c.customReadinessProbe "path" "/readyz" "port" .port) | nindent 2 }}
{{- end }}
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
    {{- include "watchtime.envFrom" (dict "ctx" .ctx "chartConfigMap" true) | nindent 4 }}
  env:
    {{- include "watchtime.env" (dict "ctx" .ctx "withBroker" false "withBootstrapKey" false) | nindent 4 }}
  securityContext:
    {{- toYaml .ctx.Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .ctx.Values.waitForMigrations.resources | nindent 4 }}
  volumeMounts:
    {{- include "watchtime.volumeMounts" .ctx | nindent 4 }}
{{- end -}}

{{/*
Checksums of exactly what a pod reads from the chart's own ConfigMap and Secret (whole objects through
envFrom or volumes, single keys through env), so that a change there rolls the pods that read it, and
only those. (dict "ctx" $ "podSpec" text)
*/}}
{{- define "watchtime.checksums" -}}
{{- $ctx := .ctx -}}
{{- $spec := fromYaml .podSpec -}}
{{- $config := include "watchtime.configData" (dict "ctx" $ctx "withBroker" true) | fromYaml -}}
{{- $secret := include "watchtime.secretData" $ctx | fromYaml -}}
{{- $configName := include "watchtime.fullname" $ctx -}}
{{- $secretName := include "watchtime.secretName" $ctx -}}
{{- $read := dict "config" (dict) "secret" (dict) -}}
{{- range $container := concat (default list $spec.initContainers) $spec.containers -}}
{{- range $container.envFrom -}}
{{- if and .configMapRef (eq .configMapRef.name $configName) }}{{ $_ := set $read "config" (deepCopy $config) }}{{ end -}}
{{- if and .secretRef (eq .secretRef.name $secretName) }}{{ $_ := set $read "secret" (deepCopy $secret) }}{{ end -}}
{{- end -}}
{{- range $container.env -}}
{{- with .valueFrom -}}
{{- if and .configMapKeyRef (eq .configMapKeyRef.name $configName) }}{{ $_ := set $read.config .configMapKeyRef.key (get $config .configMapKeyRef.key) }}{{ end -}}
{{- if and .secretKeyRef (eq .secretKeyRef.name $secretName) }}{{ $_ := set $read.secret .secretKeyRef.key (get $secret .secretKeyRef.key) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $spec.volumes -}}
{{- if and .configMap (eq .configMap.name $configName) }}{{ $_ := set $read "config" (deepCopy $config) }}{{ end -}}
{{- if and .secret (eq .secret.secretName $secretName) }}{{ $_ := set $read "secret" (deepCopy $secret) }}{{ end -}}
{{- end -}}
checksum/config: {{ toJson $read.config | sha256sum }}
checksum/secret: {{ toJson $read.secret | sha256sum }}
{{- end -}}

{{/*
metadata of a pod template: selector labels plus podLabels/commonLabels, and annotations: the
checksums of what the pod spec reads (when given), plus podAnnotations. The component's own values win
over the global ones. (dict "ctx" $ "component" "api" "values" .Values.api ["podSpec" text])
*/}}
{{- define "watchtime.podMetadata" -}}
{{- $v := .ctx.Values -}}
{{- $c := default dict .values -}}
labels:
  {{- include "watchtime.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 2 }}
  {{- with (merge (deepCopy (default dict $c.podLabels)) $v.podLabels $v.commonLabels) }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- $annotations := merge (deepCopy (default dict $c.podAnnotations)) $v.podAnnotations }}
{{- if or .podSpec $annotations }}
annotations:
  {{- with .podSpec }}
  {{- include "watchtime.checksums" (dict "ctx" $.ctx "podSpec" .) | nindent 2 }}
  {{- end }}
  {{- with $annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Pod spec of a long-running component: (dict "ctx" $ "component" "api" "values" .Values.api "container" text) */}}
{{- define "watchtime.deploymentPodSpec" -}}
{{ include "watchtime.podSpecCommon" . }}
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
{{- if and .ctx.Values.migrations.enabled .ctx.Values.waitForMigrations.enabled }}
initContainers:
  {{- include "watchtime.waitForMigrations" (dict "ctx" .ctx) | nindent 2 }}
{{- end }}
containers:
  {{- .container | nindent 2 }}
volumes:
  {{- include "watchtime.volumes" .ctx | nindent 2 }}
{{- end -}}
