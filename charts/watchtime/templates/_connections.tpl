{{/*
Where the database (and its read replica) and the broker are, and the credentials' Secret keys,
resolved once from the values (subcharts, the RabbitMQ Cluster Operator, or external services).
*/}}

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

{{/* Name of the RabbitmqCluster the chart renders (validate.yaml holds it to the operator's limit). */}}
{{- define "watchtime.rabbitmqClusterName" -}}
{{- .Values.rabbitmqCluster.name | default (include "watchtime.componentName" (dict "ctx" . "component" "rabbitmq")) -}}
{{- end -}}

{{/*
Resolved database connection as JSON: host, port, database, username (value) or usernameRef,
passwordRef ({name, key}), and readHost/readPort when the API reads from a replica (external
database only; validate.yaml refuses it with the subchart).
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
{{- if $ext.readHost -}}
{{- $_ := set $db "readHost" $ext.readHost -}}
{{- $_ := set $db "readPort" (default $ext.port $ext.readPort) -}}
{{- end -}}
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
{{- printf "postgres://%s:%d/%s" $db.host (int64 $db.port) $db.database -}}
{{- end -}}

{{/* The replica's URL (same database, same credentials), or nothing. */}}
{{- define "watchtime.databaseReadUrl" -}}
{{- $db := include "watchtime.database" . | fromJson -}}
{{- with $db.readHost -}}
{{- printf "postgres://%s:%d/%s" . (int64 $db.readPort) $db.database -}}
{{- end -}}
{{- end -}}

{{- define "watchtime.rabbitmqUrl" -}}
{{- $mq := include "watchtime.rabbitmq" . | fromJson -}}
{{- printf "amqp://%s:%d/%s" $mq.host (int64 $mq.port) (urlquery $mq.vhost) -}}
{{- end -}}

