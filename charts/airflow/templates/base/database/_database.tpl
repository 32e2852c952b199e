{{/* How Airflow reaches the metadata database, whatever base.database.type is. */}}

{{/* airflow.database.endpoint: dict of scheme, host, port, database, user, secret, key for the configured database type. */}}
{{- define "airflow.database.endpoint" -}}
{{- $db := .Values.base.database -}}
{{- if eq $db.type "postgres" -}}
{{- $pg := $db.postgres -}}
{{- toJson (dict "scheme" "postgresql" "host" (printf "%s-postgres" (include "airflow.fullname" .)) "port" 5432 "database" $pg.database "user" $pg.user "secret" (include "airflow.postgres.secretName" .) "key" "password" "query" "") -}}
{{- else -}}
{{- $ext := $db.external -}}
{{- if not $ext.host }}{{ fail "base.database.external.host is required when base.database.type is external" }}{{ end -}}
{{- if not $ext.passwordSecret.name }}{{ fail "base.database.external.passwordSecret.name is required when base.database.type is external" }}{{ end -}}
{{- toJson (dict "scheme" $ext.scheme "host" $ext.host "port" $ext.port "database" $ext.database "user" $ext.user "secret" $ext.passwordSecret.name "key" $ext.passwordSecret.key "query" $ext.query) -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.url: the SQLAlchemy URL, its password left as $(AIRFLOW_DB_PASSWORD) for Kubernetes to expand. */}}
{{- define "airflow.database.url" -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
{{- $url := printf "%s://%s:$(AIRFLOW_DB_PASSWORD)@%s:%v/%s" $e.scheme $e.user $e.host $e.port $e.database -}}
{{- ternary (printf "%s?%s" $url $e.query) $url (ne $e.query "") -}}
{{- end -}}

{{/* airflow.database.env: the password from its Secret and the SQLAlchemy URL built from it. */}}
{{- define "airflow.database.env" -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
- name: AIRFLOW_DB_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $e.secret }}, key: {{ $e.key }}}}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ include "airflow.database.url" . | quote }}
{{- end -}}
