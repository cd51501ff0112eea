{{/* What the monitors scrape and what the alert rules select. */}}

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

