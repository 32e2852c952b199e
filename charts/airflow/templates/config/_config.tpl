{{/* airflow.cfg and webserver_config.py, built from cluster.config plus the options the chart derives. */}}

{{/* airflow.config.derived: options set from other values (wiring between components); users cannot override them in cluster.config. */}}
{{- define "airflow.config.derived" -}}
core:
  executor: {{ .Values.cluster.executor }}
  dags_folder: {{ .Values.cluster.dags.path }}
  execution_api_server_url: {{ include "airflow.apiServer.url" . }}/execution/
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
  statsd_host: {{ include "airflow.fullname" . }}-statsd
  statsd_port: {{ include "airflow.metrics.statsdPort" . | quote }}
  statsd_prefix: airflow
{{- end }}
{{- if eq (include "airflow.dags.git" .) "true" }}
dag_processor:
  dag_bundle_config_list: {{ include "airflow.dags.bundles" . | quote }}
{{- end }}
{{- if eq (include "airflow.executor.kubernetes" .) "true" }}
{{- $k := .Values.cluster.kubernetes }}
kubernetes_executor:
  pod_template_file: {{ include "airflow.kubernetes.podTemplatePath" . }}
  namespace: {{ .Release.Namespace }}
  worker_pods_creation_batch_size: {{ $k.podCreationBatchSize | quote }}
  delete_worker_pods: {{ $k.deleteOnSuccess | toString | title | quote }}
  delete_worker_pods_on_failure: {{ $k.deleteOnFailure | toString | title | quote }}
{{- end }}
{{- end -}}

{{/* airflow.config.reserved: options that only come from Secrets through the environment. */}}
{{- define "airflow.config.reserved" -}}
core: [fernet_key]
api: [secret_key]
api_auth: [jwt_secret]
database: [sql_alchemy_conn]
celery: [broker_url, result_backend, flower_basic_auth]
{{- end -}}

{{/* airflow.config.validate: fails the render on value combinations that cannot work, naming the keys. */}}
{{- define "airflow.config.validate" -}}
{{- include "airflow.dags.validate" . -}}
{{- $v := .Values.cluster -}}
{{- if and $v.flower.enabled (ne (include "airflow.executor.celery" .) "true") -}}
{{- fail (printf "cluster.flower.enabled needs cluster.executor to include CeleryExecutor (it is %s)" $v.executor) -}}
{{- end -}}
{{- if and $v.podOperator.extraNamespaces (not $v.podOperator.enabled) -}}
{{- fail "cluster.podOperator.extraNamespaces is set but cluster.podOperator.enabled is false" -}}
{{- end -}}
{{- if and (eq $v.executor "LocalExecutor") (gt (int $v.scheduler.replicas) 1) -}}
{{- fail "cluster.scheduler.replicas > 1 with cluster.executor LocalExecutor runs tasks on every scheduler: use CeleryExecutor or KubernetesExecutor for HA" -}}
{{- end -}}
{{- end -}}

{{/* airflow.config.cfg: the airflow.cfg text (sections and options sorted, so the checksum is stable). */}}
{{- define "airflow.config.cfg" -}}
{{- include "airflow.config.validate" . -}}
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
{{ $key }} = {{ get $options $key }}
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
{{- end -}}
