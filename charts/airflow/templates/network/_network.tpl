{{/* NetworkPolicies: which pods may open connections to which ports (docs/security.md). */}}

{{/* airflow.network.header: a NetworkPolicy up to its ingress rules, selecting one component's pods; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.network.header" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "airflow.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "airflow.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
{{- end -}}

{{/* airflow.network.from: NetworkPolicy peers for the pods of this release's components; call with (dict "root" $ "components" LIST). */}}
{{- define "airflow.network.from" -}}
{{- range .components }}
- podSelector:
    matchLabels:
      {{- include "airflow.selectorLabels" (dict "root" $.root "component" .) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* airflow.network.releasePods: matchLabels of every pod of this release. */}}
{{- define "airflow.network.releasePods" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* airflow.network.apiClients: components that call the api-server's execution API (task runners). */}}
{{- define "airflow.network.apiClients" -}}
{{- $clients := list -}}
{{- if eq (include "airflow.executor.celery" .) "true" }}{{ $clients = append $clients "worker" }}{{ end -}}
{{- if eq (include "airflow.executor.kubernetes" .) "true" }}{{ $clients = append $clients "task" }}{{ end -}}
{{- if eq (include "airflow.executor.local" .) "true" }}{{ $clients = append $clients "scheduler" }}{{ end -}}
{{- toJson $clients -}}
{{- end -}}
