{{/* How Airflow reaches the metadata database, whatever base.database.type is. */}}

{{/* airflow.base.fullname: object-name prefix of the base: this release's, or that of the release named by cluster.airflowbase.name. */}}
{{- define "airflow.base.fullname" -}}
{{- if .Values.base.enabled -}}
{{- include "airflow.fullname" . -}}
{{- else -}}
{{- $name := required "cluster.airflowbase.name is required when base.enabled is false (the release name of the base)" .Values.cluster.airflowbase.name -}}
{{- ternary $name (printf "%s-airflow" $name) (contains "airflow" $name) | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* airflow.database.onBase: "true" when this cluster's database lives on the embedded server of another (base) release. */}}
{{- define "airflow.database.onBase" -}}{{ and (not .Values.base.enabled) (eq .Values.base.database.type "postgres") }}{{- end -}}

{{/* airflow.database.clusterName: database and user name of a cluster on a base: unique per release. */}}
{{- define "airflow.database.clusterName" -}}{{ include "airflow.fullname" . | replace "-" "_" }}{{- end -}}

{{/* airflow.database.endpoint: dict of scheme, host, port, database, user, secret, key for the configured database type. */}}
{{- define "airflow.database.endpoint" -}}
{{- $db := .Values.base.database -}}
{{- if eq (include "airflow.database.onBase" .) "true" -}}
{{- $name := include "airflow.database.clusterName" . -}}
{{- toJson (dict "scheme" "postgresql" "host" (printf "%s-postgres" (include "airflow.base.fullname" .)) "port" 5432 "database" $name "user" $name "secret" (printf "%s-database" (include "airflow.fullname" .)) "key" "password" "query" "") -}}
{{- else if eq $db.type "postgres" -}}
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


{{/* airflow.database.createContainer: init container of the migration Job creating this cluster's own role and database on the base's server (idempotent), as the base's admin. */}}
{{- define "airflow.database.createContainer" -}}
{{- $pg := .Values.base.database.postgres -}}
{{- $e := include "airflow.database.endpoint" . | fromJson -}}
- name: create-database
  image: {{ include "airflow.image" $pg.image }}
  imagePullPolicy: {{ $pg.image.pullPolicy }}
  command: [psql]
  args:
    - --no-psqlrc
    - --set=ON_ERROR_STOP=1
    - --dbname=postgresql://postgres@{{ $e.host }}:{{ $e.port }}/postgres
    - --file=/etc/airflow-database/create-database.sql
  env:
    - name: PGPASSWORD
      valueFrom: {secretKeyRef: {name: {{ include "airflow.postgres.secretName" . }}, key: postgres-password}}
    - name: AIRFLOW_DB_NAME
      value: {{ $e.database }}
    - name: AIRFLOW_DB_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $e.secret }}, key: {{ $e.key }}}}
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {memory: 128Mi}
  securityContext:
    runAsUser: 999 # the image's postgres user
    runAsGroup: 999
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: create-database
      mountPath: /etc/airflow-database
      readOnly: true
{{- end -}}
