{{/* airflow.redis.secretName: Secret with the embedded Redis password (generated or the user's). */}}
{{- define "airflow.redis.secretName" -}}
{{- .Values.cluster.redis.embedded.existingSecret | default (printf "%s-redis" (include "airflow.fullname" .)) -}}
{{- end -}}

{{/* airflow.celery.broker: dict of scheme, host, port, database, secret, key for the configured Redis. */}}
{{- define "airflow.celery.broker" -}}
{{- $r := .Values.cluster.redis -}}
{{- if eq $r.type "embedded" -}}
{{- toJson (dict "scheme" "redis" "host" (printf "%s-redis" (include "airflow.fullname" .)) "port" 6379 "database" 0 "secret" (include "airflow.redis.secretName" .) "key" "password") -}}
{{- else -}}
{{- $e := $r.external -}}
{{- if not $e.host }}{{ fail "cluster.redis.external.host is required when cluster.executor includes CeleryExecutor and cluster.redis.type is external" }}{{ end -}}
{{- if and $e.caSecret (not $e.tls) }}{{ fail "cluster.redis.external.caSecret needs cluster.redis.external.tls: true" }}{{ end -}}
{{- toJson (dict "scheme" (ternary "rediss" "redis" $e.tls) "host" $e.host "port" $e.port "database" $e.database "secret" $e.passwordSecret.name "key" $e.passwordSecret.key) -}}
{{- end -}}
{{- end -}}

{{/* airflow.celery.caSecret: the external Redis's CA Secret, when there is one and Celery uses Redis. */}}
{{- define "airflow.celery.caSecret" -}}
{{- $r := .Values.cluster.redis -}}
{{- if and (eq (include "airflow.executor.celery" .) "true") (eq $r.type "external") -}}{{ $r.external.caSecret }}{{- end -}}
{{- end -}}

{{/* airflow.celery.caPath: where the external Redis's CA certificate is mounted. */}}
{{- define "airflow.celery.caPath" -}}/etc/airflow/redis-ca/ca.crt{{- end -}}

{{/* airflow.celery.env: broker and result-backend URLs, built here once for every Celery consumer (scheduler, workers, flower). */}}
{{- define "airflow.celery.env" -}}
{{- $b := include "airflow.celery.broker" . | fromJson -}}
{{- if $b.secret }}
- name: AIRFLOW_REDIS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $b.secret | quote }}, key: {{ $b.key | quote }}}}
{{- end }}
- name: AIRFLOW__CELERY__BROKER_URL
  value: {{ printf "%s://%s%s:%d/%d" $b.scheme (ternary ":$(AIRFLOW_REDIS_PASSWORD)@" "" (ne $b.secret "")) $b.host (int64 $b.port) (int64 $b.database) | quote }}
- name: AIRFLOW__CELERY__RESULT_BACKEND
  value: {{ printf "db+%s" (include "airflow.database.url" (include "airflow.database.clientEndpoint" (dict "root" . "component" "result-backend") | fromJson)) | quote }}
{{- end -}}
