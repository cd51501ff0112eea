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


{{/* The monitor kind in use (ServiceMonitor or PodMonitor) with its values: {kind, values}; "{}" with neither. */}}
{{- define "watchtime.monitor" -}}
{{- if .Values.metrics.podMonitor.enabled -}}
{{- toJson (dict "kind" "PodMonitor" "values" .Values.metrics.podMonitor) -}}
{{- else if .Values.metrics.serviceMonitor.enabled -}}
{{- toJson (dict "kind" "ServiceMonitor" "values" .Values.metrics.serviceMonitor) -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{- define "watchtime.promqlString" -}}
{{- printf "\"%s\"" (. | replace "\\" "\\\\" | replace "\"" "\\\"") -}}
{{- end -}}

{{/*
The selectors the rule file uses for "this service's series" (in a plain Prometheus' terms, see the
file's header) mapped to this release's own, as JSON: its namespace and the jobs its monitors give the
api and consumer series, its pods, its maintenance CronJob and that CronJob's Jobs, and its broker's
series (the broker monitor's job, or metrics.prometheusRule.brokerSelector) on its vhost and queue,
matched exactly.
*/}}
{{- define "watchtime.alertSelectors" -}}
{{- $ns := printf "namespace=%s" (include "watchtime.promqlString" .Release.Namespace) -}}
{{- $api := include "watchtime.componentName" (dict "ctx" . "component" "api") -}}
{{- $consumer := include "watchtime.componentName" (dict "ctx" . "component" "consumer") -}}
{{- $apps := printf "(%s|%s)" (regexQuoteMeta $api) (regexQuoteMeta $consumer) -}}
{{- $broker := .Values.metrics.prometheusRule.brokerSelector -}}
{{- $target := include "watchtime.brokerMetricsTarget" . | fromJson -}}
{{- if and $target (include "watchtime.monitor" . | fromJson) -}}
{{- $broker = printf "namespace=%s, job=%s" (include "watchtime.promqlString" $target.namespace) (include "watchtime.promqlString" (include "watchtime.componentName" (dict "ctx" . "component" "broker"))) -}}
{{- end -}}
{{- $maintenance := include "watchtime.maintenance.name" . -}}
{{- $vhost := (include "watchtime.rabbitmq" . | fromJson).vhost -}}
{{- $queue := .Values.config.queue -}}
{{- $selectors := dict
  "job=\"watchtime-api\"" (printf "%s, job=%s" $ns (include "watchtime.promqlString" $api))
  "job=\"watchtime-consumer\"" (printf "%s, job=%s" $ns (include "watchtime.promqlString" $consumer))
  "job=~\"watchtime-(api|consumer)\"" (printf "%s, job=~%s" $ns (include "watchtime.promqlString" $apps))
  "pod=~\"watchtime-(api|consumer)-.+\"" (printf "%s, pod=~%s" $ns (include "watchtime.promqlString" (printf "%s-.+" $apps)))
  "cronjob=\"watchtime-maintenance\"" (printf "%s, cronjob=%s" $ns (include "watchtime.promqlString" $maintenance))
  "job_name=~\"watchtime-maintenance-[0-9]+\"" (printf "%s, job_name=~%s" $ns (include "watchtime.promqlString" (printf "%s-[0-9]+" (regexQuoteMeta $maintenance))))
  "job=\"rabbitmq\", vhost=\"/\", queue=~\"watch-time.*\", queue!~\".*\\\\.dead-letter\"" (printf "%s, vhost=%s, queue=%s" $broker (include "watchtime.promqlString" $vhost) (include "watchtime.promqlString" $queue))
  "job=\"rabbitmq\", vhost=\"/\", queue=~\"watch-time.*\\\\.dead-letter\"" (printf "%s, vhost=%s, queue=%s" $broker (include "watchtime.promqlString" $vhost) (include "watchtime.promqlString" (printf "%s.dead-letter" $queue)))
-}}
{{- toJson $selectors -}}
{{- end -}}
