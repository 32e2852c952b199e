{{/* airflow.cfg and webserver_config.py, built from cluster.config plus the options the chart derives. */}}

{{/* airflow.config.derived: options set from other values (wiring between components); users cannot override them in cluster.config. */}}
{{- define "airflow.config.derived" -}}
core:
  executor: {{ .Values.cluster.executor | quote }}
  dags_folder: {{ .Values.cluster.dags.path | quote }}
  execution_api_server_url: {{ printf "%s/execution/" (include "airflow.apiServer.url" .) | quote }}
  auth_manager: airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
api:
  port: {{ include "airflow.apiServer.containerPort" . | quote }}
scheduler:
  enable_health_check: "True"
  scheduler_health_check_server_port: {{ include "airflow.scheduler.healthPort" . | quote }}
{{- with include "airflow.logging.config" . }}
{{ . }}
{{- end }}
{{- if .Values.cluster.metrics.enabled }}
metrics:
  statsd_on: "True"
  statsd_host: {{ printf "%s-statsd" (include "airflow.fullname" .) | quote }}
  statsd_port: {{ include "airflow.metrics.statsdPort" . | quote }}
  statsd_prefix: airflow
{{- end }}
{{- if eq (include "airflow.pgbouncer.enabled" .) "true" }}
database:
  sql_alchemy_connect_args_async: chart_database.ASYNC_CONNECT_ARGS
{{- end }}
{{- if include "airflow.celery.caSecret" . }}
celery:
  ssl_active: "True"
  ssl_mutual_tls: "False"
  ssl_cacert: {{ include "airflow.celery.caPath" . | quote }}
{{- end }}
{{- if eq (include "airflow.dags.git" .) "true" }}
dag_processor:
  dag_bundle_config_list: {{ include "airflow.dags.bundles" . | quote }}
{{- end }}
{{- if eq (include "airflow.executor.kubernetes" .) "true" }}
{{- $k := .Values.cluster.kubernetes }}
kubernetes_executor:
  pod_template_file: {{ include "airflow.kubernetes.podTemplatePath" . | quote }}
  namespace: {{ .Release.Namespace | quote }}
  worker_pods_creation_batch_size: {{ $k.podCreationBatchSize | int64 | quote }}
  task_publish_max_retries: {{ $k.podCreationRetries | int64 | quote }}
  delete_worker_pods: {{ $k.deleteOnSuccess | toString | title | quote }}
  delete_worker_pods_on_failure: {{ $k.deleteOnFailure | toString | title | quote }}
{{- end }}
{{- end -}}

{{/* airflow.config.reserved: options that only come from Secrets through the environment. */}}
{{- define "airflow.config.reserved" -}}
core: [fernet_key]
api: [secret_key]
api_auth: [jwt_secret]
database: [sql_alchemy_conn, sql_alchemy_conn_async]
celery: [broker_url, result_backend, flower_basic_auth]
{{- end -}}

{{/* airflow.config.value: one airflow.cfg value as text: numbers literally (3000000, never 3e+06), booleans as True/False. */}}
{{- define "airflow.config.value" -}}
{{- if kindIs "string" . -}}{{ . }}
{{- else if kindIs "bool" . -}}{{ ternary "True" "False" . }}
{{- else -}}{{ toJson . }}
{{- end -}}
{{- end -}}

{{/* airflow.config.cfg: the airflow.cfg text (sections and options sorted, so the checksum is stable). */}}
{{- define "airflow.config.cfg" -}}
{{- $cfg := deepCopy .Values.cluster.config -}}
{{- range $section, $keys := include "airflow.config.reserved" . | fromYaml -}}
{{- range $keys -}}
{{- if hasKey (get $cfg $section | default dict) . -}}
{{- fail (printf "cluster.config.%s.%s is a secret: pass it with cluster.extraEnv from a Secret (AIRFLOW__%s__%s)" $section . (upper $section) (upper .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $section, $options := include "airflow.config.derived" . | fromYaml -}}
{{- $user := get $cfg $section | default dict -}}
{{- range $key, $_ := $options -}}
{{- if hasKey $user $key -}}
{{- fail (printf "cluster.config.%s.%s is set by the chart from other values; remove it from cluster.config" $section $key) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg $section (merge $user $options) -}}
{{- end -}}
{{- range $section := keys $cfg | sortAlpha }}
[{{ $section }}]
{{- $options := get $cfg $section }}
{{- range $key := keys $options | sortAlpha }}
{{ $key }} = {{ include "airflow.config.value" (get $options $key) }}
{{- end }}
{{ end -}}
{{- end -}}

{{/* airflow.config.files: the ConfigMap's data section (also hashed into pod annotations). */}}
{{- define "airflow.config.files" -}}
airflow.cfg: |
  {{- include "airflow.config.cfg" . | nindent 2 }}
webserver_config.py: |
  # Flask-AppBuilder settings of the FAB auth manager: users live in Airflow's database.
  from flask_appbuilder.const import AUTH_DB

  AUTH_TYPE = AUTH_DB
  WTF_CSRF_ENABLED = True
{{- if eq (include "airflow.pgbouncer.enabled" .) "true" }}
chart_database.py: |
  # Connect arguments of the async metadata engine (psycopg) behind PgBouncer's transaction
  # pooling: a statement prepared on one server connection is missing on the next transaction's,
  # which may be another, so psycopg never prepares.
  ASYNC_CONNECT_ARGS = {"prepare_threshold": None}
{{- end }}
{{- end -}}
