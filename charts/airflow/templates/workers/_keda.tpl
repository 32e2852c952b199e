{{/* KEDA autoscaling of the Celery workers (cluster.workers.keda). */}}

{{/* airflow.workers.kedaQuery: SQL giving the workers this cluster's queued and running Celery tasks need: ceil(tasks / [celery] worker_concurrency). Queue names are schema-checked (no quotes). */}}
{{- define "airflow.workers.kedaQuery" -}}
{{- $concurrency := dig "celery" "worker_concurrency" 16 .Values.cluster.config | int64 -}}
{{- if lt $concurrency 1 -}}
{{- fail (printf "cluster.config.celery.worker_concurrency must be at least 1 with cluster.workers.keda (it is %d)" $concurrency) -}}
{{- end -}}
{{- $queues := list -}}
{{- range .Values.cluster.workers.queues }}{{ $queues = append $queues (printf "'%s'" .) }}{{ end -}}
{{- /* With KubernetesExecutor beside it, a task runs on Celery, the first (default) executor, unless it names another; it may name Celery by class name or by import path. */}}
{{- $executor := ternary " AND (executor IS NULL OR executor IN ('CeleryExecutor', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor'))" "" (eq (include "airflow.executor.kubernetes" .) "true") -}}
{{- $mysql := hasPrefix "mysql" (include "airflow.database.endpoint" . | fromJson).scheme -}}
SELECT CEIL(COUNT(*){{ if not $mysql }}::decimal{{ end }} / {{ $concurrency }}) FROM task_instance WHERE state IN ('queued', 'running') AND queue IN ({{ join ", " $queues }}){{ $executor }}
{{- end -}}

{{/* airflow.workers.kedaTrigger: the scaler's type and metadata: PgBouncer's Service when it is on, else the database server, named as KEDA's operator (another namespace) resolves it; TLS as far as KEDA can go without our CA. */}}
{{- define "airflow.workers.kedaTrigger" -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
{{- $host := $e.host -}}
{{- $port := $e.port | int64 -}}
{{- $tls := or (ne (include "airflow.database.caSecret" .) "") (has (include "airflow.database.sslmode" .) (list "require" "verify-ca" "verify-full")) -}}
{{- if eq (include "airflow.pgbouncer.enabled" .) "true" -}}
{{- $host = include "airflow.pgbouncer.name" . -}}
{{- $port = include "airflow.pgbouncer.port" . | int64 -}}
{{- $tls = false -}}
{{- end -}}
{{- if not (contains "." $host) }}{{ $host = printf "%s.%s.svc" $host .Release.Namespace }}{{ end -}}
{{- $query := include "airflow.workers.kedaQuery" . -}}
{{- if hasPrefix "mysql" $e.scheme -}}
{{- toJson (dict "type" "mysql" "metadata" (dict "host" $host "port" (toString $port) "username" $e.user "dbName" $e.database "query" $query "queryValue" "1")) -}}
{{- else -}}
{{- toJson (dict "type" "postgresql" "metadata" (dict "host" $host "port" (toString $port) "userName" $e.user "dbName" $e.database "sslmode" (ternary "require" "disable" $tls) "query" $query "targetQueryValue" "1")) -}}
{{- end -}}
{{- end -}}

{{/* airflow.workers.validate: KEDA scales Celery workers only, and not together with the HPA. */}}
{{- define "airflow.workers.validate" -}}
{{- $w := .Values.cluster.workers -}}
{{- if $w.keda.enabled -}}
{{- if ne (include "airflow.executor.celery" .) "true" -}}
{{- fail (printf "cluster.workers.keda scales Celery workers: cluster.executor (%s) has no CeleryExecutor" .Values.cluster.executor) -}}
{{- end -}}
{{- if $w.autoscaling.enabled -}}
{{- fail "cluster.workers.keda and cluster.workers.autoscaling both scale the workers: enable one" -}}
{{- end -}}
{{- if gt (int64 $w.keda.minReplicas) (int64 $w.keda.maxReplicas) -}}
{{- fail (printf "cluster.workers.keda.minReplicas (%d) is above maxReplicas (%d)" (int64 $w.keda.minReplicas) (int64 $w.keda.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
