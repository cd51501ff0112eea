{{/*
Values the chart generates into its own Secret. They are read back from the live Secret (`lookup`)
so they survive upgrades; offline renders (helm template, Argo CD) cannot see it and generate new
ones, so GitOps installs use the existingSecret values instead.
*/}}

{{/* A fresh API key in the format `watchtime createkey` prints. */}}
{{- define "watchtime.newApiKey" -}}
{{- printf "wt_%s_%s" (randAlphaNum 8 | lower) (randAlphaNum 40) -}}
{{- end -}}

{{/*
data of the chart's Secret (base64 values), as YAML. Computed once per render and kept on the root
context, so every template of the render sees the same random values: the Secret itself, the
migrations hook's copy of them, and the checksums that roll the pods reading them.
*/}}
{{- define "watchtime.secretData" -}}
{{- if not (hasKey . "watchtimeSecretData") -}}
{{- $live := (lookup "v1" "Secret" .Release.Namespace (include "watchtime.secretName" .)).data | default dict -}}
{{- $data := dict -}}
{{- if not .Values.secretKey.existingSecret -}}
{{- $_ := set $data "django-secret-key" (get $live "django-secret-key" | default (randAlphaNum 64 | b64enc)) -}}
{{- end -}}
{{- if not .Values.liveTokenKey.existingSecret -}}
{{- $_ := set $data "live-token-key" (get $live "live-token-key" | default (randAlphaNum 64 | b64enc)) -}}
{{- end -}}
{{- if and .Values.bootstrapApiKey.enabled (not .Values.bootstrapApiKey.existingSecret) -}}
{{- $_ := set $data "bootstrap-api-key" (get $live "bootstrap-api-key" | default (include "watchtime.newApiKey" . | b64enc)) -}}
{{- end -}}
{{- if eq .Values.consumer.autoscaling.mode "keda" -}}
{{- /* KEDA's rabbitmq scaler takes host (URL), vhostName and username from Secret keys only. */ -}}
{{- $mq := include "watchtime.rabbitmq" . | fromJson -}}
{{- $_ := set $data "keda-rabbitmq-host" (include "watchtime.rabbitmqUrl" . | b64enc) -}}
{{- $_ := set $data "keda-rabbitmq-vhost" ($mq.vhost | b64enc) -}}
{{- if not $mq.usernameRef -}}
{{- $_ := set $data "keda-rabbitmq-username" ($mq.username | b64enc) -}}
{{- end -}}
{{- end -}}
{{- $_ := set . "watchtimeSecretData" $data -}}
{{- end -}}
{{- toYaml .watchtimeSecretData -}}
{{- end -}}

{{/* Where DJANGO_SECRET_KEY comes from: {name, key} of the user's Secret or of the chart's. */}}
{{- define "watchtime.secretKeyRef" -}}
{{- if .Values.secretKey.existingSecret -}}
{{- toJson (dict "name" .Values.secretKey.existingSecret "key" .Values.secretKey.existingSecretKey) -}}
{{- else -}}
{{- toJson (dict "name" (include "watchtime.secretName" .) "key" "django-secret-key") -}}
{{- end -}}
{{- end -}}
