{{/* airflow.scheduler.healthPort: port of the scheduler's health-check server (config and probes). */}}
{{- define "airflow.scheduler.healthPort" -}}8974{{- end -}}
