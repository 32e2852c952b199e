{{/* airflow.migrations.podSpec: on a shared base create the cluster's database, migrate the schema (init containers), then create the admin user if missing. */}}
{{- define "airflow.migrations.podSpec" -}}
{{- $admin := .Values.cluster.auth.admin -}}
{{- $image := include "airflow.image" .Values.cluster.image | quote -}}
{{- $resources := include "airflow.resources" (dict "key" "cluster.migrations.resources" "value" .Values.cluster.migrations.resources) | fromYaml -}}
{{- $container := printf "image: %s\nimagePullPolicy: %s\nresources: %s\nsecurityContext:\n%s\nvolumeMounts:\n%s\n"
  $image .Values.cluster.image.pullPolicy (toJson $resources)
  (include "airflow.containerSecurityContext" . | indent 2) (include "airflow.volumeMounts" . | indent 2) -}}
restartPolicy: OnFailure
serviceAccountName: {{ include "airflow.serviceAccount" (dict "root" . "component" "migrations") }}
automountServiceAccountToken: false
securityContext:
  {{- include "airflow.podSecurityContext" (dict "uid" 50000 "gid" 0) | nindent 2 }}
{{- include "airflow.imagePullSecrets" . }}
{{- $onBase := eq (include "airflow.database.onBase" .) "true" }}
initContainers:
  {{- if $onBase }}
  {{- include "airflow.database.createContainer" . | nindent 2 }}
  {{- end }}
  - name: migrate
    args: [airflow, db, migrate]
    env:
      {{- include "airflow.env" (dict "root" . "component" "migrate") | nindent 6 }}
    {{- $container | nindent 4 }}
  {{- if .Values.cluster.pools }}
  - name: import-pools
    # Creates the pools of cluster.pools, or updates those that exist.
    args: [airflow, pools, import, /etc/airflow/pools/pools.json]
    env:
      {{- include "airflow.env" (dict "root" . "component" "import-pools") | nindent 6 }}
    {{- $container | nindent 4 }}
      {{- /* volumeMounts is the last key of $container: one more mount. */}}
      - name: pools
        mountPath: /etc/airflow/pools
        readOnly: true
  {{- end }}
containers:
  - name: create-admin
    # Leaves an existing user (and a password changed in the UI) alone.
    args: {{ toJson (list "airflow" "users" "create"
      (printf "--username=%s" $admin.username) (printf "--email=%s" $admin.email)
      (printf "--firstname=%s" $admin.firstName) (printf "--lastname=%s" $admin.lastName)
      "--role=Admin" "--password=$(AIRFLOW_ADMIN_PASSWORD)") }}
    env:
      {{- include "airflow.env" (dict "root" . "component" "create-admin") | nindent 6 }}
      - name: AIRFLOW_ADMIN_PASSWORD
        valueFrom: {secretKeyRef: {name: {{ include "airflow.secrets.name" . | quote }}, key: admin-password}}
    {{- $container | nindent 4 }}
volumes:
  {{- include "airflow.volumes" . | nindent 2 }}
  {{- if .Values.cluster.pools }}
  - name: pools
    configMap:
      name: {{ include "airflow.migrations.poolsName" . }}
  {{- end }}
  {{- if $onBase }}
  - name: create-database
    configMap:
      name: {{ include "airflow.fullname" . }}-create-database
  {{- end }}
{{- end -}}

{{/* airflow.migrations.pools: cluster.pools as the JSON file `airflow pools import` reads. */}}
{{- define "airflow.migrations.pools" -}}
{{- $pools := dict -}}
{{- range .Values.cluster.pools -}}
{{- $_ := set $pools .name (dict "slots" (.slots | int64) "description" (.description | default "") "include_deferred" (.includeDeferred | default false)) -}}
{{- end -}}
{{- toJson $pools -}}
{{- end -}}

{{/* airflow.migrations.poolsName: the pools ConfigMap, named by its content so that a change gives the migration Job a new spec (and so a run). */}}
{{- define "airflow.migrations.poolsName" -}}
{{ include "airflow.fullname" . }}-pools-{{ include "airflow.migrations.pools" . | sha256sum | trunc 10 }}
{{- end -}}
