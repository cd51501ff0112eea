{{/* The migrations Job: when it runs (Helm hook or plain Job) and what it reads. */}}

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
