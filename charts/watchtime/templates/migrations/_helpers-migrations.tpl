{{/* The migrations Job: when it runs (Helm hooks, or a Job of the release) and what it reads. */}}

{{/*
"true" when the migrations run as pre-install/pre-upgrade hooks, before any pod of the new revision
starts. Not with the in-cluster PostgreSQL subchart: that database is created by the install itself,
so a pre-install hook could not reach it, and a post-install hook would deadlock `helm install --wait`
and Flux (Helm runs post-install hooks only once the pods are ready, and the pods wait for the
migrations). There, and with useHelmHooks=false (Argo CD), the Job is an object of the release.
*/}}
{{- define "watchtime.migrations.asHook" -}}
{{- if and .Values.migrations.enabled .Values.migrations.useHelmHooks (not .Values.postgres.enabled) -}}
true
{{- end -}}
{{- end -}}

{{/*
Annotations of the hook objects. A pre-install hook may use only what exists before the release:
the user's objects and hooks of a lower weight. So the ServiceAccount and the copy of the generated
secrets come first (-5), then the Job (0); all three go once the hooks succeeded, and a failed run's
are replaced by the next (before-hook-creation).
*/}}
{{- define "watchtime.migrations.hookAnnotations" -}}
{{- dict "helm.sh/hook" "pre-install,pre-upgrade" "helm.sh/hook-weight" (toString .weight) "helm.sh/hook-delete-policy" "before-hook-creation,hook-succeeded" | toYaml -}}
{{- end -}}

{{/* The hook's own ServiceAccount (the release's exists only after the pre-install hooks), or the release's. */}}
{{- define "watchtime.migrations.serviceAccountName" -}}
{{- if and (include "watchtime.migrations.asHook" .) .Values.serviceAccount.create -}}
{{- include "watchtime.componentName" (dict "ctx" . "component" "migrate") -}}
{{- else -}}
{{- include "watchtime.serviceAccountName" . -}}
{{- end -}}
{{- end -}}

{{/* The hook's copy of the generated values it reads (the same values as the release Secret), as YAML; empty when none. */}}
{{- define "watchtime.migrations.hookSecretData" -}}
{{- if include "watchtime.migrations.asHook" . -}}
{{- with pick (include "watchtime.secretData" . | fromYaml) "django-secret-key" "live-token-key" "bootstrap-api-key" -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* spec of the Job. `watchtime migrate` also ensures the bootstrap API key. The configuration is
inlined: at pre-install the release's ConfigMap does not exist yet. */}}
{{- define "watchtime.migrations.jobSpec" -}}
{{- $m := .Values.migrations -}}
{{- $generatedSecret := include "watchtime.secretName" . -}}
{{- if include "watchtime.migrations.hookSecretData" . -}}
{{- $generatedSecret = include "watchtime.componentName" (dict "ctx" . "component" "migrate") -}}
{{- end -}}
backoffLimit: {{ $m.backoffLimit }}
activeDeadlineSeconds: {{ $m.activeDeadlineSeconds }}
template:
  metadata:
    {{- include "watchtime.podMetadata" (dict "ctx" . "component" "migrate" "values" $m) | nindent 4 }}
  spec:
    {{- include "watchtime.podSpecCommon" (dict "ctx" . "component" "migrate" "serviceAccountName" (include "watchtime.migrations.serviceAccountName" .)) | nindent 4 }}
    restartPolicy: Never
    containers:
      - name: migrate
        image: {{ include "watchtime.image" . }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        args:
          - migrate
        {{- with (include "watchtime.envFrom" (dict "ctx" . "chartConfigMap" false)) }}
        envFrom:
          {{- . | nindent 10 }}
        {{- end }}
        env:
          {{- include "watchtime.env" (dict "ctx" . "own" (include "watchtime.inlineConfigEnv" .) "withBroker" false "withBootstrapKey" true "generatedSecret" $generatedSecret) | nindent 10 }}
        securityContext:
          {{- toYaml .Values.containerSecurityContext | nindent 10 }}
        resources:
          {{- toYaml $m.resources | nindent 10 }}
        volumeMounts:
          {{- include "watchtime.volumeMounts" . | nindent 10 }}
    volumes:
      {{- include "watchtime.volumes" . | nindent 6 }}
{{- end -}}
