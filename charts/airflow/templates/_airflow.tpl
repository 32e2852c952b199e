{{/* Helpers shared by every Airflow workload (api-server, scheduler, dag-processor, triggerer, workers, flower, migrations). */}}

{{/* airflow.home: AIRFLOW_HOME of the official image, where airflow.cfg and webserver_config.py are mounted. */}}
{{- define "airflow.home" -}}/opt/airflow{{- end -}}

{{/* airflow.executor.celery: "true" when cluster.executor includes CeleryExecutor. */}}
{{- define "airflow.executor.celery" -}}{{ has "CeleryExecutor" (splitList "," .Values.cluster.executor) }}{{- end -}}

{{/* airflow.executor.kubernetes: "true" when cluster.executor includes KubernetesExecutor. */}}
{{- define "airflow.executor.kubernetes" -}}{{ has "KubernetesExecutor" (splitList "," .Values.cluster.executor) }}{{- end -}}

{{/* airflow.executor.local: "true" when cluster.executor includes LocalExecutor (tasks run in the scheduler). */}}
{{- define "airflow.executor.local" -}}{{ has "LocalExecutor" (splitList "," .Values.cluster.executor) }}{{- end -}}

{{/* airflow.secrets.name: the Secret holding fernet-key, jwt-secret, api-secret-key, admin-password, flower-password. */}}
{{- define "airflow.secrets.name" -}}
{{- .Values.cluster.secrets.existingSecret | default (printf "%s-airflow" (include "airflow.fullname" .)) -}}
{{- end -}}

{{/* airflow.serviceAccount: name of a component's service account. */}}
{{- define "airflow.serviceAccount" -}}{{ include "airflow.fullname" .root }}-{{ .component }}{{- end -}}

{{/* airflow.logFolder: where task logs are written ([logging] base_log_folder, Airflow's default unless cluster.config sets it). */}}
{{- define "airflow.logFolder" -}}{{ dig "logging" "base_log_folder" "/opt/airflow/logs" .Values.cluster.config }}{{- end -}}

{{/* airflow.secrets.keys: the secrets one container receives, as a JSON list among fernet-key, jwt-secret, api-secret-key, database, redis and dag-code (cluster.connections and cluster.variables, for containers that run DAG code; docs/security.md says who reads which); call with (dict "root" $ "component" NAME), NAME a component, a migration container or "all". */}}
{{- define "airflow.secrets.keys" -}}
{{- $runsTasks := ternary (list "api-secret-key" "dag-code") (list) (eq (include "airflow.executor.local" .root) "true") -}}
{{- $keys := dict
  "api-server" (list "fernet-key" "jwt-secret" "api-secret-key" "database")
  "scheduler" (concat (list "fernet-key" "jwt-secret" "database" "redis") $runsTasks)
  "dag-processor" (list "fernet-key" "database" "dag-code")
  "triggerer" (list "fernet-key" "api-secret-key" "database" "dag-code")
  "worker" (list "api-secret-key" "database" "redis" "dag-code")
  "flower" (list "database" "redis")
  "task" (list "dag-code")
  "migrate" (list "database")
  "import-pools" (list "database")
  "create-admin" (list "database")
  "wait-for-migrations" (list "database")
  "database-cleanup" (list "database")
  "all" (list "fernet-key" "jwt-secret" "api-secret-key" "database" "redis" "dag-code") -}}
{{- toJson (get $keys .component) -}}
{{- end -}}

{{/* airflow.env.chart: the environment the chart gives an Airflow container: the secrets of airflow.secrets.keys (database and broker URLs among them), log backend credentials; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.env.chart" -}}
{{- $root := .root -}}
{{- $keys := include "airflow.secrets.keys" . | fromJsonArray -}}
{{- $secret := include "airflow.secrets.name" $root | quote -}}
{{- if has "fernet-key" $keys }}
- name: AIRFLOW__CORE__FERNET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: fernet-key}}
{{- end }}
{{- if has "jwt-secret" $keys }}
- name: AIRFLOW__API_AUTH__JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: jwt-secret}}
{{- end }}
{{- if has "api-secret-key" $keys }}
- name: AIRFLOW__API__SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: api-secret-key}}
{{- end }}
{{- if has "database" $keys }}
{{ include "airflow.database.env" . }}
{{- end }}
{{- if and (has "redis" $keys) (eq (include "airflow.executor.celery" $root) "true") }}
{{ include "airflow.celery.env" $root }}
{{- end }}
{{- include "airflow.logging.env" $root }}
{{- if has "dag-code" $keys }}
{{- range $root.Values.cluster.connections }}
- name: AIRFLOW_CONN_{{ upper .id }}
  valueFrom: {secretKeyRef: {name: {{ .secretName | quote }}, key: {{ .secretKey | quote }}}}
{{- end }}
{{- range $root.Values.cluster.variables }}
- name: AIRFLOW_VAR_{{ upper .key }}
  valueFrom: {secretKeyRef: {name: {{ .secretName | quote }}, key: {{ .secretKey | quote }}}}
{{- end }}
{{- end }}
{{- if $root.Values.cluster.podOperator.enabled }}
- name: AIRFLOW_VAR_POD_OPERATOR_SERVICE_ACCOUNT
  value: {{ include "airflow.serviceAccount" (dict "root" $root "component" "launched-pod") }}
{{- end }}
{{- end -}}

{{/* airflow.env: environment of an Airflow container: the chart's, then cluster.extraEnv (whose names airflow.checks.env keeps apart); call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.env" -}}
{{ include "airflow.env.chart" . }}
{{- with .root.Values.cluster.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* airflow.env.containerOnly: names the chart sets on single containers, beside airflow.env.chart. */}}
{{- define "airflow.env.containerOnly" -}}
CONNECTION_CHECK_MAX_COUNT DUMB_INIT_SETSID HOSTNAME AIRFLOW_FLOWER_PASSWORD AIRFLOW__CELERY__FLOWER_BASIC_AUTH AIRFLOW_ADMIN_PASSWORD AIRFLOW_HOME
{{- end -}}

{{/* airflow.checks.env: fails when cluster.extraEnv sets a name the chart sets, directly or as the AIRFLOW__SECTION__KEY form of an option it derives or keeps secret. */}}
{{- define "airflow.checks.env" -}}
{{- $reserved := splitList " " (include "airflow.env.containerOnly" .) -}}
{{- range include "airflow.env.chart" (dict "root" . "component" "all") | fromYamlArray -}}
{{- $reserved = append $reserved .name -}}
{{- end -}}
{{- range $section, $options := include "airflow.config.derived" . | fromYaml -}}
{{- range $key, $_ := $options -}}
{{- $reserved = append $reserved (printf "AIRFLOW__%s__%s" (upper $section) (upper $key)) -}}
{{- end -}}
{{- end -}}
{{- range $section, $keys := include "airflow.config.reserved" . | fromYaml -}}
{{- range $keys -}}
{{- $reserved = append $reserved (printf "AIRFLOW__%s__%s" (upper $section) (upper .)) -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $i, $e := .Values.cluster.extraEnv -}}
{{- if has $e.name $reserved -}}
{{- fail (printf "cluster.extraEnv[%d]: %s is set by the chart; set the value it comes from instead (see the values table)" $i $e.name) -}}
{{- end -}}
{{- if hasKey $seen $e.name -}}
{{- fail (printf "cluster.extraEnv[%d]: %s is set twice" $i $e.name) -}}
{{- end -}}
{{- $_ := set $seen $e.name true -}}
{{- end -}}
{{- end -}}

{{/* airflow.caCertificates: the CA certificates Airflow verifies servers with, as a JSON list of {volume, secret, path}: the log backend's, the external database's, the external Redis's. */}}
{{- define "airflow.caCertificates" -}}
{{- $cas := list -}}
{{- range $volume, $ca := dict
  "logging-ca" (list (include "airflow.logging.caSecret" .) (include "airflow.logging.caPath" .))
  "database-ca" (list (include "airflow.database.caSecret" .) (include "airflow.database.caPath" .))
  "redis-ca" (list (include "airflow.celery.caSecret" .) (include "airflow.celery.caPath" .)) -}}
{{- if first $ca }}{{ $cas = append $cas (dict "volume" $volume "secret" (first $ca) "path" (last $ca)) }}{{ end -}}
{{- end -}}
{{- toJson $cas -}}
{{- end -}}

{{/* airflow.volumes: volumes of every Airflow pod: the config files, /tmp, the log folder (an emptyDir or the log claim) and the CA certificates. */}}
{{- define "airflow.volumes" -}}
- name: config
  configMap:
    name: {{ include "airflow.fullname" . }}-config
- name: tmp
  emptyDir: {}
- name: logs
  {{- if .Values.cluster.logging.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "airflow.logging.claimName" . | quote }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- range include "airflow.caCertificates" . | fromJsonArray }}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret | quote }}
    items: [{key: ca.crt, path: ca.crt}]
{{- end }}
{{- end -}}

{{/* airflow.volumeMounts: mounts matching airflow.volumes; paths come from values so they are written once. */}}
{{- define "airflow.volumeMounts" -}}
{{- $home := include "airflow.home" . -}}
- name: config
  mountPath: {{ $home }}/airflow.cfg
  subPath: airflow.cfg
  readOnly: true
- name: config
  mountPath: {{ $home }}/webserver_config.py
  subPath: webserver_config.py
  readOnly: true
{{- if eq (include "airflow.pgbouncer.enabled" .) "true" }}
- name: config
  mountPath: {{ $home }}/config/chart_database.py
  subPath: chart_database.py
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
- name: logs
  mountPath: {{ include "airflow.logFolder" . | quote }}
{{- range include "airflow.caCertificates" . | fromJsonArray }}
- name: {{ .volume }}
  mountPath: {{ dir .path }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* airflow.waitForMigrations: init container that blocks until Airflow's schema is current (Airflow's own check). */}}
{{- define "airflow.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "airflow.image" .Values.cluster.image | quote }}
  imagePullPolicy: {{ .Values.cluster.image.pullPolicy }}
  args: [airflow, db, check-migrations, --migration-wait-timeout, {{ .Values.cluster.migrations.waitTimeoutSeconds | int64 | quote }}]
  env:
    {{- include "airflow.env" (dict "root" . "component" "wait-for-migrations") | nindent 4 }}
  resources:
    {{- include "airflow.resources" (dict "key" "cluster.migrations.waitResources" "value" .Values.cluster.migrations.waitResources) | nindent 4 }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "airflow.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* airflow.placement: nodeSelector, affinity, tolerations, spread and priority of a component's pods; keys set in the component's placement replace cluster.placement's. Call with (dict "root" $ "component" NAME "placement" MAP). */}}
{{- define "airflow.placement" -}}
{{- $p := merge (deepCopy (.placement | default dict)) .root.Values.cluster.placement -}}
{{- with $p.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $p.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $p.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if kindIs "invalid" $p.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "airflow.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- else if $p.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml $p.topologySpreadConstraints | nindent 2 }}
{{- end }}
{{- with $p.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* airflow.needsKubeApi: "true" when a component's pods call the Kubernetes API (executor pods, KubernetesPodOperator). */}}
{{- define "airflow.needsKubeApi" -}}
{{- $v := .root.Values.cluster -}}
{{- $k8s := eq (include "airflow.executor.kubernetes" .root) "true" -}}
{{- $celery := eq (include "airflow.executor.celery" .root) "true" -}}
{{- $local := eq $v.executor "LocalExecutor" -}}
{{- $kpo := $v.podOperator.enabled -}}
{{- if eq .component "scheduler" -}}{{ or $k8s (and $kpo $local) }}
{{- else if eq .component "worker" -}}{{ and $kpo $celery }}
{{- else if eq .component "task" -}}{{ and $kpo $k8s }}
{{- else if eq .component "triggerer" -}}{{ $kpo }}
{{- else -}}false{{- end -}}
{{- end -}}

{{/* airflow.podSpec: pod spec of an Airflow workload; call with (dict "root" $ "component" NAME "name" CONTAINER "args" LIST "values" COMPONENT_VALUES "valuesKey" THEIR_PATH "ports" LIST "probes" MAP), optionally "env" LIST, "volumes"/"volumeMounts" LISTS, "grace" SECONDS. */}}
{{- define "airflow.podSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "airflow.serviceAccount" . }}
automountServiceAccountToken: {{ include "airflow.needsKubeApi" . }}
securityContext:
  {{- include "airflow.podSecurityContext" (dict "uid" 50000 "gid" 0) | nindent 2 }}
{{- include "airflow.imagePullSecrets" $root }}
{{- with .grace }}
terminationGracePeriodSeconds: {{ . | int64 }}
{{- end }}
{{- include "airflow.placement" (dict "root" $root "component" .component "placement" .values.placement) }}
initContainers:
  {{- include "airflow.dags.initContainers" . | replace "\n" "\n  " }}
  {{- include "airflow.waitForMigrations" $root | nindent 2 }}
containers:
  - name: {{ .name }}
    image: {{ include "airflow.image" $root.Values.cluster.image | quote }}
    imagePullPolicy: {{ $root.Values.cluster.image.pullPolicy }}
    args: {{ toJson .args }}
    env:
      {{- include "airflow.env" . | nindent 6 }}
      # The init container already waited for the database: skip the image entrypoint's own check.
      - name: CONNECTION_CHECK_MAX_COUNT
        value: "0"
      {{- with .env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with .ports }}
    ports:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- toYaml .probes | nindent 4 }}
    resources:
      {{- include "airflow.resources" (dict "key" (printf "%s.resources" .valuesKey) "value" .values.resources) | nindent 6 }}
    securityContext:
      {{- include "airflow.containerSecurityContext" $root | nindent 6 }}
    volumeMounts:
      {{- include "airflow.volumeMounts" $root | nindent 6 }}
      {{- include "airflow.dags.volumeMounts" . | replace "\n" "\n      " }}
      {{- with .volumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  {{- include "airflow.dags.sidecars" . | replace "\n" "\n  " }}
volumes:
  {{- include "airflow.volumes" $root | nindent 2 }}
  {{- include "airflow.dags.volumes" . | replace "\n" "\n  " }}
  {{- with .volumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* airflow.podAnnotations: checksums that roll pods when config or secrets change, plus cluster.podAnnotations (whose checksum/ keys airflow.checks refuses). */}}
{{- define "airflow.podAnnotations" -}}
{{- $checksums := dict
  "checksum/config" (include "airflow.config.files" . | sha256sum)
  "checksum/secrets" (list .Values.cluster.secrets (include "airflow.database.env" (dict "root" . "component" "all")) | toJson | sha256sum) -}}
{{- merge $checksums .Values.cluster.podAnnotations | toYaml -}}
{{- end -}}

{{/* airflow.deployment: a Deployment of one Airflow workload; same arguments as airflow.podSpec. */}}
{{- define "airflow.deployment" -}}
{{- $root := .root -}}
{{- $labels := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "airflow.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" $labels | nindent 4 }}
spec:
  {{- if not (include "airflow.autoscaled" .values) }}
  replicas: {{ .values.replicas | int64 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "airflow.selectorLabels" $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "airflow.databaseClientLabels" $labels | nindent 8 }}
      annotations:
        {{- include "airflow.podAnnotations" $root | nindent 8 }}
    spec:
      {{- include "airflow.podSpec" . | nindent 6 }}
{{- end -}}

{{/* airflow.databaseClientLabels: labels of a pod that uses the metadata database: its component's, cluster.podLabels, and airflow/database naming the base whose database NetworkPolicy admits it; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.databaseClientLabels" -}}
{{- include "airflow.labels" (merge (dict "extra" .root.Values.cluster.podLabels "extraKey" "cluster.podLabels") .) }}
airflow/database: {{ include "airflow.base.fullname" .root }}
{{- end -}}

{{/* airflow.autoscaled: the autoscaler's values ("keda" or "autoscaling") when one sets a component's replicas, else empty; call with the component's values. */}}
{{- define "airflow.autoscaled" -}}
{{- if dig "keda" "enabled" false . }}keda{{ else if dig "autoscaling" "enabled" false . }}autoscaling{{ end -}}
{{- end -}}

{{/* airflow.hpa: a HorizontalPodAutoscaler on CPU use for a component's Deployment when its autoscaling is enabled; call with (dict "root" $ "component" NAME "values" COMPONENT_VALUES "valuesKey" KEY). */}}
{{- define "airflow.hpa" -}}
{{- with .values.autoscaling }}{{ if .enabled }}
{{- if gt (int64 .minReplicas) (int64 .maxReplicas) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%d) is above maxReplicas (%d)" $.valuesKey (int64 .minReplicas) (int64 .maxReplicas)) -}}
{{- end -}}
{{- /* CPU use is measured against the CPU request, which the values schema requires. */}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "airflow.fullname" $.root }}-{{ $.component }}
  namespace: {{ $.root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" $ | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "airflow.fullname" $.root }}-{{ $.component }}
  minReplicas: {{ .minReplicas | int64 }}
  maxReplicas: {{ .maxReplicas | int64 }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .targetCPUUtilizationPercentage | int64 }}
{{- end }}{{ end }}
{{- end -}}

{{/* airflow.pdb: a PodDisruptionBudget for a component when its podDisruptionBudget is enabled and it may run more than one replica (its replicas, or an autoscaler's maximum); call with (dict "root" $ "component" NAME "values" COMPONENT_VALUES). */}}
{{- define "airflow.pdb" -}}
{{- $replicas := .values.replicas -}}
{{- with include "airflow.autoscaled" .values }}{{ $replicas = get (get $.values .) "maxReplicas" }}{{ end -}}
{{- with .values.podDisruptionBudget }}{{ if and .enabled (gt (int64 $replicas) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "airflow.fullname" $.root }}-{{ $.component }}
  namespace: {{ $.root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" $ | nindent 4 }}
spec:
  maxUnavailable: {{ .maxUnavailable | int64 }}
  selector:
    matchLabels:
      {{- include "airflow.selectorLabels" $ | nindent 6 }}
{{- end }}{{ end }}
{{- end -}}

{{/* airflow.jobCheckProbes: liveness and readiness via `airflow jobs check` for workloads without an HTTP health endpoint (ready: its job heartbeats, which rollouts and disruption budgets count on); call with the job type. */}}
{{- define "airflow.jobCheckProbes" -}}
livenessProbe:
  exec:
    command: [airflow, jobs, check, --job-type, {{ . }}, --local]
  initialDelaySeconds: 60
  periodSeconds: 60
  timeoutSeconds: 45
  failureThreshold: 5
readinessProbe:
  exec:
    command: [airflow, jobs, check, --job-type, {{ . }}, --local]
  initialDelaySeconds: 20
  periodSeconds: 60
  timeoutSeconds: 45
  failureThreshold: 2
{{- end -}}
