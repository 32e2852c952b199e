{{/* Scheduled cleanup: metadata rows (airflow db clean) and persisted log files. */}}

{{/* airflow.cleanup.tables: the tables `airflow db clean` cleans in Airflow 3.3 (its --tables choices); cluster.databaseCleanup.skipTables names some of them. */}}
{{- define "airflow.cleanup.tables" -}}
job dag dag_run asset_event partitioned_asset_key_log import_error log task_instance task_instance_history task_state_store task_reschedule xcom _xcom_archive callback celery_taskmeta celery_tasksetmeta trigger dag_version deadline revoked_token connection_test_request
{{- end -}}

{{/* airflow.cleanup.cleaned: the tables cleaned, comma-separated: all but cluster.databaseCleanup.skipTables. */}}
{{- define "airflow.cleanup.cleaned" -}}
{{- $cleaned := list -}}
{{- range splitList " " (include "airflow.cleanup.tables" .) -}}
{{- if not (has . $.Values.cluster.databaseCleanup.skipTables) }}{{ $cleaned = append $cleaned . }}{{ end -}}
{{- end -}}
{{- join "," $cleaned -}}
{{- end -}}

{{/* airflow.cleanup.cronJob: a CronJob running one container once per schedule, never two at a time; call with (dict "root" $ "component" NAME "schedule" CRON "container" CONTAINER_YAML "volumes" VOLUMES_YAML), optionally "databaseClient" true for a pod that uses the metadata database (its NetworkPolicy label), "serviceAccount" COMPONENT with "token" true for a pod that calls the Kubernetes API. */}}
{{- define "airflow.cleanup.cronJob" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "airflow.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  schedule: {{ .schedule | quote }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        metadata:
          labels:
            {{- if .databaseClient }}
            {{- include "airflow.databaseClientLabels" (dict "root" $root "component" .component) | nindent 12 }}
            {{- else }}
            {{- include "airflow.labels" (dict "root" $root "component" .component "extra" $root.Values.cluster.podLabels "extraKey" "cluster.podLabels") | nindent 12 }}
            {{- end }}
          {{- with $root.Values.cluster.podAnnotations }}
          annotations:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        spec:
          {{- include "airflow.cleanup.podSpec" . | nindent 10 }}
{{- end -}}

{{/* airflow.cleanup.podSpec: the pod of a cleanup CronJob (by default the migrations' service account, without a token); same arguments as airflow.cleanup.cronJob. */}}
{{- define "airflow.cleanup.podSpec" -}}
restartPolicy: Never
serviceAccountName: {{ include "airflow.serviceAccount" (dict "root" .root "component" (.serviceAccount | default "migrations")) }}
automountServiceAccountToken: {{ .token | default false }}
securityContext:
  {{- include "airflow.podSecurityContext" (dict "uid" 50000 "gid" 0) | nindent 2 }}
{{- include "airflow.imagePullSecrets" .root }}
{{- include "airflow.placement" (dict "root" .root "component" .component "placement" dict) }}
containers:
  {{- .container | nindent 2 }}
volumes:
  {{- .volumes | nindent 2 }}
{{- end -}}

{{/* airflow.cleanup.databaseContainer: the `airflow db clean` container; its script is fixed, the retention and the tables reach it as checked values in its environment. */}}
{{- define "airflow.cleanup.databaseContainer" -}}
{{- $c := .Values.cluster.databaseCleanup -}}
- name: database-cleanup
  image: {{ include "airflow.image" .Values.cluster.image | quote }}
  imagePullPolicy: {{ .Values.cluster.image.pullPolicy }}
  command: [bash, -c]
  args:
    - >-
      exec airflow db clean --yes --skip-archive --verbose --tables "$CLEAN_TABLES"
      --clean-before-timestamp "$(date -u -d "-$RETENTION_DAYS days" +%Y-%m-%dT%H:%M:%S+00:00)"
  env:
    - name: RETENTION_DAYS
      value: {{ $c.retentionDays | int64 | quote }}
    - name: CLEAN_TABLES
      value: {{ include "airflow.cleanup.cleaned" . | quote }}
    {{- include "airflow.env" (dict "root" . "component" "database-cleanup") | nindent 4 }}
  resources:
    {{- include "airflow.resources" (dict "key" "cluster.databaseCleanup.resources" "value" $c.resources) | nindent 4 }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "airflow.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* airflow.cleanup.logContainer: deletes log files older than the retention, then folders empty for an hour (a running task's new folder is never empty that long); `find` with fixed arguments and a checked number of days. */}}
{{- define "airflow.cleanup.logContainer" -}}
{{- $r := .Values.cluster.logging.persistence.retention -}}
- name: log-retention
  image: {{ include "airflow.image" .Values.cluster.image | quote }}
  imagePullPolicy: {{ .Values.cluster.image.pullPolicy }}
  command: [find]
  args: [{{ include "airflow.logFolder" . | quote }}, -mindepth, "1", "(", -type, f, -mtime, {{ printf "+%d" ($r.days | int64) | quote }}, -o, -type, d, -empty, -mmin, "+60", ")", -print, -delete]
  resources:
    {{- include "airflow.resources" (dict "key" "cluster.logging.persistence.retention.resources" "value" $r.resources) | nindent 4 }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: logs
      mountPath: {{ include "airflow.logFolder" . | quote }}
{{- end -}}

{{/* airflow.cleanup.podContainer: deletes the KubernetesExecutor's finished task pods (label kubernetes_executor=True) whose containers ended more than maxAgeHours ago; a fixed script, the age from a checked value. */}}
{{- define "airflow.cleanup.podContainer" -}}
{{- $c := .Values.cluster.kubernetes.podCleanup -}}
- name: task-pod-cleanup
  image: {{ include "airflow.image" .Values.cluster.image | quote }}
  imagePullPolicy: {{ .Values.cluster.image.pullPolicy }}
  command: [python, -c]
  args:
    - |
      import datetime as dt, os
      from kubernetes import client, config
      try:
          config.load_incluster_config()
      except config.ConfigException:  # outside a cluster (the chart's local runtime): KUBECONFIG
          config.load_kube_config()
      api, namespace = client.CoreV1Api(), os.environ["NAMESPACE"]
      cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=int(os.environ["MAX_AGE_HOURS"]))
      for pod in api.list_namespaced_pod(namespace, label_selector="kubernetes_executor=True").items:
          ended = [s.state.terminated.finished_at for s in pod.status.container_statuses or []
                   if s.state and s.state.terminated]
          if pod.status.phase in ("Succeeded", "Failed") and ended and max(ended) < cutoff:
              api.delete_namespaced_pod(pod.metadata.name, namespace)
              print(f"deleted {pod.metadata.name} ({pod.status.phase}, ended {max(ended)})")
  env:
    - name: NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: MAX_AGE_HOURS
      value: {{ $c.maxAgeHours | int64 | quote }}
  resources:
    {{- include "airflow.resources" (dict "key" "cluster.kubernetes.podCleanup.resources" "value" $c.resources) | nindent 4 }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* airflow.cleanup.validate: log retention needs the log claim, task pod cleanup the KubernetesExecutor. */}}
{{- define "airflow.cleanup.validate" -}}
{{- $p := .Values.cluster.logging.persistence -}}
{{- if and $p.retention.enabled (not $p.enabled) -}}
{{- fail "cluster.logging.persistence.retention.enabled needs cluster.logging.persistence.enabled: without the claim each pod's logs go with the pod" -}}
{{- end -}}
{{- if and .Values.cluster.kubernetes.podCleanup.enabled (ne (include "airflow.executor.kubernetes" .) "true") -}}
{{- fail (printf "cluster.kubernetes.podCleanup.enabled needs cluster.executor to include KubernetesExecutor (it is %s)" .Values.cluster.executor) -}}
{{- end -}}
{{- end -}}
