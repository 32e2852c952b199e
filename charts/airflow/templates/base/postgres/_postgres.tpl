{{/* Helpers of the embedded PostgreSQL. */}}

{{/* airflow.postgres.secretName: Secret with postgres-password and password (generated or the user's). */}}
{{- define "airflow.postgres.secretName" -}}
{{- .Values.base.database.postgres.existingSecret | default (printf "%s-postgres" (include "airflow.base.fullname" .)) -}}
{{- end -}}

{{/* airflow.postgres.claimName: the data volume claim (created by the chart unless an existing one is named). */}}
{{- define "airflow.postgres.claimName" -}}
{{- .Values.base.database.postgres.persistence.existingClaim | default (printf "%s-postgres-data" (include "airflow.fullname" .)) -}}
{{- end -}}
