{{/* PgBouncer between Airflow and its PostgreSQL metadata database (cluster.pgbouncer). */}}

{{/* airflow.pgbouncer.enabled: "true" when Airflow's connections go through PgBouncer. */}}
{{- define "airflow.pgbouncer.enabled" -}}{{ and .Values.cluster.enabled .Values.cluster.pgbouncer.enabled }}{{- end -}}

{{/* airflow.pgbouncer.name: name of PgBouncer's objects, its Service among them. */}}
{{- define "airflow.pgbouncer.name" -}}{{ include "airflow.fullname" . }}-pgbouncer{{- end -}}

{{/* airflow.pgbouncer.port: the port PgBouncer serves. */}}
{{- define "airflow.pgbouncer.port" -}}6432{{- end -}}

{{/* airflow.pgbouncer.metricsPort: the port of the pgbouncer-exporter sidecar (cluster.pgbouncer.metrics). */}}
{{- define "airflow.pgbouncer.metricsPort" -}}9127{{- end -}}

{{/* airflow.pgbouncer.authFile: the auth file the init container writes from the database Secret, in memory. */}}
{{- define "airflow.pgbouncer.authFile" -}}/etc/pgbouncer-auth/users.txt{{- end -}}

{{/* airflow.pgbouncer.config: pgbouncer.ini: Airflow's one database, transaction pooling, SCRAM with the auth file (no password here), the server verified with the external database's CA when it has one (else the sslmode of its query, or prefer). */}}
{{- define "airflow.pgbouncer.config" -}}
{{- $p := .Values.cluster.pgbouncer -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
[databases]
{{ $e.database }} = host={{ $e.host }} port={{ $e.port | int64 }} dbname={{ $e.database }}

[pgbouncer]
listen_addr = *
listen_port = {{ include "airflow.pgbouncer.port" . }}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {{ include "airflow.pgbouncer.authFile" . }}
stats_users = {{ $e.user }}
pool_mode = transaction
max_client_conn = {{ $p.maxClientConnections | int64 }}
default_pool_size = {{ $p.poolSize | int64 }}
reserve_pool_size = {{ $p.reservePoolSize | int64 }}
reserve_pool_timeout = 5
ignore_startup_parameters = extra_float_digits
{{- if include "airflow.database.caSecret" . }}
server_tls_sslmode = verify-full
server_tls_ca_file = {{ include "airflow.database.caPath" . }}
{{- else }}
{{- $mode := include "airflow.database.sslmode" . }}
server_tls_sslmode = {{ ternary $mode "prefer" (has $mode (list "disable" "allow" "prefer" "require")) }}
{{- end }}
{{- end -}}

{{/* airflow.pgbouncer.validate: PgBouncer speaks PostgreSQL only. */}}
{{- define "airflow.pgbouncer.validate" -}}
{{- if eq (include "airflow.pgbouncer.enabled" .) "true" -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
{{- if not (hasPrefix "postgresql" $e.scheme) -}}
{{- fail (printf "cluster.pgbouncer.enabled needs a PostgreSQL metadata database (this one is %s)" $e.scheme) -}}
{{- end -}}
{{- end -}}
{{- end -}}
