{{/* airflow.kubernetes.podTemplatePath: where the scheduler finds the worker pod template ([kubernetes_executor] pod_template_file). */}}
{{- define "airflow.kubernetes.podTemplatePath" -}}{{ include "airflow.home" . }}/pod_templates/pod_template_file.yaml{{- end -}}

{{/* airflow.kubernetes.podTemplate: the Pod KubernetesExecutor starts per task (Airflow adds the command and task labels). */}}
{{- define "airflow.kubernetes.podTemplate" -}}
{{- $k := .Values.cluster.kubernetes -}}
{{- $labels := dict "root" . "component" "task" -}}
apiVersion: v1
kind: Pod
metadata:
  name: placeholder-name
  labels:
    {{- include "airflow.labels" (merge (dict "extra" $k.labels "extraKey" "cluster.kubernetes.labels") $labels) | nindent 4 }}
spec:
  serviceAccountName: {{ include "airflow.serviceAccount" $labels }}
  automountServiceAccountToken: {{ include "airflow.needsKubeApi" $labels }}
  restartPolicy: Never
  securityContext:
    {{- include "airflow.podSecurityContext" (dict "uid" 50000 "gid" 0) | nindent 4 }}
  {{- include "airflow.imagePullSecrets" . | nindent 2 }}
  {{- include "airflow.placement" (dict "root" . "component" "task" "placement" $k.placement) | nindent 2 }}
  {{- with include "airflow.dags.initContainers" $labels }}
  initContainers:
    {{- . | replace "\n" "\n    " }}
  {{- end }}
  containers:
    # Airflow requires the task container to be named "base".
    - name: base
      image: {{ include "airflow.image" .Values.cluster.image | quote }}
      imagePullPolicy: {{ .Values.cluster.image.pullPolicy }}
      {{- with include "airflow.env" $labels | trim }}
      env:
        {{- . | nindent 8 }}
      {{- end }}
      resources:
        {{- include "airflow.resources" (dict "key" "cluster.kubernetes.resources" "value" $k.resources) | nindent 8 }}
      securityContext:
        {{- include "airflow.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "airflow.volumeMounts" . | nindent 8 }}
        {{- include "airflow.dags.volumeMounts" $labels | replace "\n" "\n        " }}
  volumes:
    {{- include "airflow.volumes" . | nindent 4 }}
    {{- include "airflow.dags.volumes" $labels | replace "\n" "\n    " }}
{{- end -}}
