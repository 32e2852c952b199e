{{/* airflow.cfg and webserver_config.py, built from cluster.config plus the options the chart derives. */}}

{{/* airflow.config.derived: options set from other values (wiring between components); users cannot override them in cluster.config. */}}
{{- define "airflow.config.derived" -}}
core:
  executor: {{ .Values.cluster.executor }}
  execution_api_server_url: {{ include "airflow.apiServer.url" . }}/execution/
  auth_manager: airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
api:
  port: {{ include "airflow.apiServer.containerPort" . | quote }}
scheduler:
  enable_health_check: "True"
  scheduler_health_check_server_port: {{ include "airflow.scheduler.healthPort" . | quote }}
{{- end -}}

{{/* airflow.config.reserved: options that only come from Secrets through the environment. */}}
{{- define "airflow.config.reserved" -}}
core: [fernet_key]
api: [secret_key]
api_auth: [jwt_secret]
database: [sql_alchemy_conn]
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
