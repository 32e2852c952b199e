{{/* airflow.rbac.components: components whose service accounts get pod rights (JSON list), see airflow.needsKubeApi. */}}
{{- define "airflow.rbac.components" -}}
{{- $out := list -}}
{{- range list "scheduler" "worker" "task" "triggerer" -}}
{{- if eq (include "airflow.needsKubeApi" (dict "root" $ "component" .)) "true" -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* airflow.rbac.rules: least-privilege rules for launching and watching pods (never cluster-wide). */}}
{{- define "airflow.rbac.rules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [create, get, list, watch, patch, delete]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [list]
{{- if .Values.cluster.podOperator.enabled }}
# KubernetesPodOperator reads XComs through an exec into its sidecar.
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [create, get]
{{- end }}
{{- end -}}
