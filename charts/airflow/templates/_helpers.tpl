{{/* Generic helpers shared by every component. */}}

{{/* airflow.fullname: prefix of every object name (short enough for "-<component>" suffixes). */}}
{{- define "airflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.selectorLabels: labels that select the pods of one component; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.selectorLabels" -}}
app.kubernetes.io/name: {{ default .root.Chart.Name .root.Values.nameOverride }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* airflow.labels: the full standard label set of an object of one component; same arguments. */}}
{{- define "airflow.labels" -}}
{{ include "airflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* airflow.render: renders a free-form user value (map or list) as YAML, templating its strings; call with (dict "value" V "root" $). */}}
{{- define "airflow.render" -}}
{{- if .value -}}
{{- tpl (toYaml .value) .root -}}
{{- end -}}
{{- end -}}

{{/* airflow.image: "repository@digest" when a digest is set, else "repository:tag". */}}
{{- define "airflow.image" -}}
{{- if .digest -}}{{ .repository }}@{{ .digest }}{{- else -}}{{ .repository }}:{{ .tag }}{{- end -}}
{{- end -}}

{{/* airflow.imagePullSecrets: the pod's imagePullSecrets block, empty when none are set. */}}
{{- define "airflow.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* airflow.podSecurityContext: Pod Security "restricted" pod context for the image's uid/gid; call with (dict "uid" U "gid" G). */}}
{{- define "airflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
fsGroup: {{ .gid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* airflow.containerSecurityContext: Pod Security "restricted" container context with a read-only root filesystem. */}}
{{- define "airflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* airflow.secretValue: base64 value for KEY of a generated Secret: the value already in the cluster, else GENERATED; call with (dict "existing" SECRET "key" KEY "generated" VALUE). */}}
{{- define "airflow.secretValue" -}}
{{- $data := (.existing | default dict).data | default dict -}}
{{- index $data .key | default (.generated | b64enc) -}}
{{- end -}}

{{/* airflow.keptClaim: a PersistentVolumeClaim that `helm uninstall` keeps (data outlives the release); call with (dict "root" $ "component" C "name" N "accessModes" LIST "size" S "storageClass" SC). */}}
{{- define "airflow.keptClaim" -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .name }}
  labels:
    {{- include "airflow.labels" (dict "root" .root "component" .component) | nindent 4 }}
  annotations:
    # The data outlives the release: delete the claim by hand to drop it.
    helm.sh/resource-policy: keep
spec:
  accessModes: {{ toJson .accessModes }}
  {{- with .storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ .size }}
{{- end -}}

{{/* airflow.keptPasswords: a Secret of generated URL-safe passwords, each reused from the Secret already in the cluster and kept on uninstall (the data they open outlives the release); call with (dict "root" $ "component" C "name" N "keys" LIST). */}}
{{- define "airflow.keptPasswords" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}
  labels:
    {{- include "airflow.labels" (dict "root" .root "component" .component) | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
type: Opaque
data:
  {{- range .keys }}
  {{ . }}: {{ include "airflow.secretValue" (dict "existing" $existing "key" . "generated" (randAlphaNum 32)) }}
  {{- end }}
{{- end -}}
