{{/* airflow.apiServer.containerPort: port the api-server listens on (written to [api] port and the container). */}}
{{- define "airflow.apiServer.containerPort" -}}8080{{- end -}}

{{/* airflow.apiServer.url: in-cluster base URL of the api-server Service (tasks reach the execution API here). */}}
{{- define "airflow.apiServer.url" -}}
http://{{ include "airflow.fullname" . }}-api-server:{{ .Values.cluster.apiServer.service.port | int64 }}
{{- end -}}
