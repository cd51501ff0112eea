{{/* Values the chart generates into its own Secret. */}}

{{/* A fresh API key in the format `watchtime createkey` prints. */}}
{{- define "watchtime.newApiKey" -}}
{{- printf "wt_%s_%s" (randAlphaNum 8 | lower) (randAlphaNum 40) -}}
{{- end -}}
