{{/* Task logs beyond the pod: Elasticsearch or OpenSearch (remote logging) and the log claim. */}}

{{/* airflow.logging.backend: "elasticsearch", "opensearch" or "" (fails when both are enabled). */}}
{{- define "airflow.logging.backend" -}}
{{- $l := .Values.cluster.logging -}}
{{- if and $l.elasticsearch.enabled $l.opensearch.enabled -}}
{{- fail "cluster.logging.elasticsearch.enabled and cluster.logging.opensearch.enabled are both true: task logs go to one of them" -}}
{{- end -}}
{{- if $l.elasticsearch.enabled -}}elasticsearch{{- else if $l.opensearch.enabled -}}opensearch{{- end -}}
{{- end -}}

{{/* airflow.logging.caSecret: the Secret with the log backend's CA certificate, or "". */}}
{{- define "airflow.logging.caSecret" -}}
{{- with include "airflow.logging.backend" . }}{{ (get $.Values.cluster.logging .).caSecret }}{{ end -}}
{{- end -}}

{{/* airflow.logging.caPath: where the backend's CA certificate is mounted. */}}
{{- define "airflow.logging.caPath" -}}/etc/airflow/logging-ca/ca.crt{{- end -}}

{{/* airflow.logging.config: airflow.cfg sections of the chosen backend (JSON task logs on stdout, log_id and offset as the UI reads them back). */}}
{{- define "airflow.logging.config" -}}
{{- $backend := include "airflow.logging.backend" . -}}
{{- if $backend -}}
{{- $b := get .Values.cluster.logging $backend -}}
logging:
  remote_logging: "True"
{{ $backend }}:
  write_stdout: "True"
  json_format: "True"
  json_fields: asctime, filename, lineno, levelname, message
  log_id_template: "{dag_id}-{task_id}-{run_id}-{map_index}-{try_number}"
  offset_field: offset
  index_patterns: {{ $b.indexPatterns | quote }}
  {{- if eq $backend "elasticsearch" }}
  {{- if not $b.credentialsSecret }}
  host: {{ $b.host | quote }}
  {{- end }}
  frontend: {{ $b.frontend | quote }}
  write_to_es: {{ $b.writeToElasticsearch | toString | title | quote }}
  target_index: {{ $b.targetIndex | quote }}
  {{- else }}
  host: {{ $b.host | quote }}
  port: {{ $b.port | int64 | quote }}
  {{- end }}
{{ $backend }}_configs:
  verify_certs: {{ $b.verifyCerts | toString | title | quote }}
  {{- if eq $backend "opensearch" }}
  use_ssl: {{ $b.useSsl | toString | title | quote }}
  {{- end }}
  {{- if $b.caSecret }}
  ca_certs: {{ include "airflow.logging.caPath" . | quote }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* airflow.logging.env: the backend's credentials from their Secret (Elasticsearch: inside the host URL). */}}
{{- define "airflow.logging.env" -}}
{{- $backend := include "airflow.logging.backend" . -}}
{{- if $backend -}}
{{- $b := get .Values.cluster.logging $backend -}}
{{- with $b.credentialsSecret }}
- name: AIRFLOW_LOGS_USERNAME
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: username}}
- name: AIRFLOW_LOGS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: password}}
{{- if eq $backend "elasticsearch" }}
- name: AIRFLOW__ELASTICSEARCH__HOST
  value: {{ regexReplaceAll "^([a-z]+://)" $b.host "${1}$(AIRFLOW_LOGS_USERNAME):$(AIRFLOW_LOGS_PASSWORD)@" | quote }}
{{- else }}
- name: AIRFLOW__OPENSEARCH__USERNAME
  value: $(AIRFLOW_LOGS_USERNAME)
- name: AIRFLOW__OPENSEARCH__PASSWORD
  value: $(AIRFLOW_LOGS_PASSWORD)
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* airflow.logging.validate: a backend needs its host, and credentials travel only over TLS. */}}
{{- define "airflow.logging.validate" -}}
{{- with include "airflow.logging.backend" . -}}
{{- $b := get $.Values.cluster.logging . -}}
{{- $key := printf "cluster.logging.%s" . -}}
{{- if not $b.host -}}
{{- fail (printf "%s.host is required when %s.enabled is true" $key $key) -}}
{{- end -}}
{{- if and $b.credentialsSecret (or (hasPrefix "http://" (toString $b.host)) (and (eq . "opensearch") (not $b.useSsl))) -}}
{{- fail (printf "%s.credentialsSecret is set but the connection is not TLS (%s.host %s%s): the password would travel unencrypted" $key $key $b.host (ternary "" ", useSsl false" (eq . "elasticsearch"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.logging.claimName: the log claim (the user's or the chart's). */}}
{{- define "airflow.logging.claimName" -}}
{{- .Values.cluster.logging.persistence.existingClaim | default (printf "%s-logs" (include "airflow.fullname" .)) -}}
{{- end -}}
