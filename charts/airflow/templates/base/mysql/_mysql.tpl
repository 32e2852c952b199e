{{/* Helpers of the embedded MySQL. */}}

{{/* airflow.mysql.secretName: Secret with root-password and password (generated or the user's). */}}
{{- define "airflow.mysql.secretName" -}}
{{- .Values.base.database.mysql.existingSecret | default (printf "%s-mysql" (include "airflow.base.fullname" .)) -}}
{{- end -}}

{{/* airflow.mysql.claimName: the data volume claim (created by the chart unless an existing one is named). */}}
{{- define "airflow.mysql.claimName" -}}
{{- .Values.base.database.mysql.persistence.existingClaim | default (printf "%s-mysql-data" (include "airflow.fullname" .)) -}}
{{- end -}}
