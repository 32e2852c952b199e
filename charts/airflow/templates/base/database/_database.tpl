{{/* How Airflow reaches the metadata database, whatever base.database.type is. */}}

{{/* airflow.base.fullname: object-name prefix of the base: this release's, or that of the release named by cluster.airflowbase.name. */}}
{{- define "airflow.base.fullname" -}}
{{- if .Values.base.enabled -}}
{{- include "airflow.fullname" . -}}
{{- else -}}
{{- $name := required "cluster.airflowbase.name is required when base.enabled is false (the release name of the base)" .Values.cluster.airflowbase.name -}}
{{- ternary $name (printf "%s-airflow" $name) (contains "airflow" $name) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.port: the server port of an engine (postgres or mysql). */}}
{{- define "airflow.database.port" -}}{{ ternary 3306 5432 (eq . "mysql") }}{{- end -}}

{{/* airflow.database.scheme: the SQLAlchemy URL scheme of an engine (the drivers the Airflow image ships). */}}
{{- define "airflow.database.scheme" -}}{{ ternary "mysql+mysqldb" "postgresql" (eq . "mysql") }}{{- end -}}

{{/* airflow.database.onBase: "true" when this cluster's database lives on the embedded server of another (base) release. */}}
{{- define "airflow.database.onBase" -}}{{ and (not .Values.base.enabled) (has .Values.base.database.type (list "postgres" "mysql")) }}{{- end -}}

{{/* airflow.database.clusterName: database and user name of a cluster on a base: unique per release. */}}
{{- define "airflow.database.clusterName" -}}{{ include "airflow.fullname" . | replace "-" "_" }}{{- end -}}

{{/* airflow.database.admin: dict of user, secret, key of the embedded server's admin (a base's postgres or root). */}}
{{- define "airflow.database.admin" -}}
{{- if eq .Values.base.database.type "mysql" -}}
{{- toJson (dict "user" "root" "secret" (include "airflow.mysql.secretName" .) "key" "root-password") -}}
{{- else -}}
{{- toJson (dict "user" "postgres" "secret" (include "airflow.postgres.secretName" .) "key" "postgres-password") -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.endpoint: dict of scheme, host, port, database, user, secret, key, query for the configured database type. */}}
{{- define "airflow.database.endpoint" -}}
{{- $db := .Values.base.database -}}
{{- $type := $db.type -}}
{{- if eq (include "airflow.database.onBase" .) "true" -}}
{{- $name := include "airflow.database.clusterName" . -}}
{{- toJson (dict "scheme" (include "airflow.database.scheme" $type) "host" (printf "%s-%s" (include "airflow.base.fullname" .) $type) "port" (include "airflow.database.port" $type) "database" $name "user" $name "secret" (printf "%s-database" (include "airflow.fullname" .)) "key" "password" "query" "") -}}
{{- else if eq $type "postgres" -}}
{{- $pg := $db.postgres -}}
{{- toJson (dict "scheme" "postgresql" "host" (printf "%s-postgres" (include "airflow.fullname" .)) "port" 5432 "database" $pg.database "user" $pg.user "secret" (include "airflow.postgres.secretName" .) "key" "password" "query" "") -}}
{{- else if eq $type "mysql" -}}
{{- $my := $db.mysql -}}
{{- toJson (dict "scheme" "mysql+mysqldb" "host" (printf "%s-mysql" (include "airflow.fullname" .)) "port" 3306 "database" $my.database "user" $my.user "secret" (include "airflow.mysql.secretName" .) "key" "password" "query" "") -}}
{{- else if eq $type "sqlproxy" -}}
{{- $sp := $db.sqlproxy -}}
{{- toJson (dict "scheme" (include "airflow.database.scheme" $sp.engine) "host" (printf "%s-sqlproxy" (include "airflow.base.fullname" .)) "port" (include "airflow.database.port" $sp.engine) "database" $sp.database "user" $sp.user "secret" $sp.passwordSecret.name "key" $sp.passwordSecret.key "query" "") -}}
{{- else -}}
{{- $ext := $db.external -}}
{{- $query := list -}}
{{- with $ext.query }}{{ $query = append $query . }}{{ end -}}
{{- if $ext.caSecret -}}
{{- $ca := include "airflow.database.caPath" . -}}
{{- $query = append $query (ternary (printf "ssl_ca=%s&ssl_check_hostname=true" $ca) (printf "sslmode=verify-full&sslrootcert=%s" $ca) (hasPrefix "mysql" $ext.scheme)) -}}
{{- end -}}
{{- toJson (dict "scheme" $ext.scheme "host" $ext.host "port" $ext.port "database" $ext.database "user" $ext.user "secret" $ext.passwordSecret.name "key" $ext.passwordSecret.key "query" (join "&" $query)) -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.caSecret: the external database's CA Secret, when the database is external and has one. */}}
{{- define "airflow.database.caSecret" -}}
{{- if eq .Values.base.database.type "external" }}{{ .Values.base.database.external.caSecret }}{{ end -}}
{{- end -}}

{{/* airflow.database.sslmode: the PostgreSQL sslmode set in base.database.external.query, else empty (PgBouncer's and KEDA's server connections follow it). */}}
{{- define "airflow.database.sslmode" -}}
{{- regexFind "(^|&)sslmode=[a-z-]+" (include "airflow.database.endpoint" . | fromJson).query | trimAll "&" | trimPrefix "sslmode=" -}}
{{- end -}}

{{/* airflow.database.caPath: where the external database's CA certificate is mounted (base.database.external.caSecret). */}}
{{- define "airflow.database.caPath" -}}/etc/airflow/database-ca/ca.crt{{- end -}}

{{/* airflow.database.validate: what each database type needs, and names its server accepts. */}}
{{- define "airflow.database.validate" -}}
{{- $db := .Values.base.database -}}
{{- if and (eq $db.type "external") (not $db.external.host) -}}
{{- fail "base.database.external.host is required when base.database.type is external" -}}
{{- end -}}
{{- if and (eq $db.type "external") (not $db.external.passwordSecret.name) -}}
{{- fail "base.database.external.passwordSecret.name is required when base.database.type is external" -}}
{{- end -}}
{{- if and (include "airflow.database.caSecret" .) (regexMatch "(^|&)(sslmode|sslrootcert|ssl_[a-z_]+)=" $db.external.query) -}}
{{- fail "base.database.external.query: its TLS options are set by base.database.external.caSecret; remove them from the query" -}}
{{- end -}}
{{- if and (eq $db.type "sqlproxy") (not $db.sqlproxy.passwordSecret.name) -}}
{{- fail "base.database.sqlproxy.passwordSecret.name is required when base.database.type is sqlproxy" -}}
{{- end -}}
{{- $name := include "airflow.database.clusterName" . -}}
{{- if and (eq $db.type "mysql") (eq (include "airflow.database.onBase" .) "true") (gt (len $name) 32) -}}
{{- fail (printf "this cluster's MySQL user would be %s, longer than MySQL's 32 characters (it comes from the release name): use a shorter release name or fullnameOverride" $name) -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.direct: containers connecting to the database server even with PgBouncer on (the migration Job's: schema changes and imports hold session state). */}}
{{- define "airflow.database.direct" -}}{{ toJson (list "migrate" "import-pools" "create-admin") }}{{- end -}}

{{/* airflow.database.clientEndpoint: the endpoint one container connects to: PgBouncer's Service when cluster.pgbouncer is on (except airflow.database.direct), with psycopg2, which never prepares statements on the server (PgBouncer's transaction pooling may run the next transaction on another server connection); else the server; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.database.clientEndpoint" -}}
{{- $e := include "airflow.database.endpoint" .root | fromJson -}}
{{- if and (eq (include "airflow.pgbouncer.enabled" .root) "true") (not (has .component (include "airflow.database.direct" . | fromJsonArray))) -}}
{{- $_ := set $e "scheme" "postgresql+psycopg2" -}}
{{- $_ = set $e "host" (include "airflow.pgbouncer.name" .root) -}}
{{- $_ = set $e "port" (include "airflow.pgbouncer.port" .) -}}
{{- $_ = set $e "query" "" -}}
{{- end -}}
{{- toJson $e -}}
{{- end -}}

{{/* airflow.database.url: the SQLAlchemy URL of an endpoint (airflow.database.clientEndpoint, parsed), its password left as $(AIRFLOW_DB_PASSWORD) for Kubernetes to expand. */}}
{{- define "airflow.database.url" -}}
{{- $url := printf "%s://%s:$(AIRFLOW_DB_PASSWORD)@%s:%d/%s" .scheme .user .host (int64 .port) .database -}}
{{- ternary (printf "%s?%s" $url .query) $url (ne .query "") -}}
{{- end -}}

{{/* airflow.database.env: the password from its Secret and the SQLAlchemy URL built from it; with PgBouncer also the async engine's, with psycopg, which chart_database.py (airflow.config.files) keeps from preparing statements; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.database.env" -}}
{{- $e := include "airflow.database.clientEndpoint" . | fromJson -}}
{{- $url := include "airflow.database.url" $e -}}
- name: AIRFLOW_DB_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $e.secret | quote }}, key: {{ $e.key | quote }}}}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ $url | quote }}
{{- if eq (include "airflow.pgbouncer.enabled" .root) "true" }}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC
  value: {{ regexReplaceAll "^[^:]+" $url "postgresql+psycopg" | quote }}
{{- end }}
{{- end -}}

{{/* airflow.database.createContainer: init container of the migration Job creating this cluster's own user and database on the base's server (idempotent), as the base's admin. */}}
{{- define "airflow.database.createContainer" -}}
{{- $type := .Values.base.database.type -}}
{{- $server := get .Values.base.database $type -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
{{- $admin := include "airflow.database.admin" . | fromJson -}}
- name: create-database
  image: {{ include "airflow.image" $server.image | quote }}
  imagePullPolicy: {{ $server.image.pullPolicy }}
  {{- if eq $type "mysql" }}
  command: [sh, /etc/airflow-database/create-database.sh]
  {{- else }}
  command: [psql]
  args:
    - --no-psqlrc
    - --set=ON_ERROR_STOP=1
    - {{ printf "--dbname=postgresql://%s@%s:%d/postgres" $admin.user $e.host (int64 $e.port) | quote }}
    - --file=/etc/airflow-database/create-database.sql
  {{- end }}
  env:
    - name: {{ ternary "MYSQL_ADMIN_PASSWORD" "PGPASSWORD" (eq $type "mysql") }}
      valueFrom: {secretKeyRef: {name: {{ $admin.secret | quote }}, key: {{ $admin.key }}}}
    {{- if eq $type "mysql" }}
    - name: MYSQL_HOST
      value: {{ $e.host | quote }}
    {{- end }}
    - name: AIRFLOW_DB_NAME
      value: {{ $e.database | quote }}
    - name: AIRFLOW_DB_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $e.secret | quote }}, key: {{ $e.key | quote }}}}
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {memory: 256Mi}
  securityContext:
    runAsUser: 999 # the image's database user
    runAsGroup: 999
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: create-database
      mountPath: /etc/airflow-database
      readOnly: true
    - name: tmp
      mountPath: /tmp
{{- end -}}
