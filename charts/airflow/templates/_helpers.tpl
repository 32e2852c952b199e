{{/* Generic helpers shared by every component. */}}

{{/* airflow.fullname: prefix of every object name, at most 40 characters so that "-<component>" suffixes keep names within Kubernetes' limits. */}}
{{- define "airflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* airflow.selectorLabels: labels that select the pods of one component; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.selectorLabels" -}}
{{ include "airflow.network.releasePods" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* airflow.reservedLabels: label keys the chart sets itself (users may not set them). */}}
{{- define "airflow.reservedLabels" -}}
app.kubernetes.io/name app.kubernetes.io/instance app.kubernetes.io/component app.kubernetes.io/version app.kubernetes.io/managed-by helm.sh/chart airflow/database
{{- end -}}

{{/* airflow.checkLabels: fails when a user label map sets a key the chart sets; call with (dict "key" VALUE_PATH "value" MAP). */}}
{{- define "airflow.checkLabels" -}}
{{- range splitList " " (include "airflow.reservedLabels" .) -}}
{{- if hasKey $.value . -}}
{{- fail (printf "%s: the label %s is set by the chart; remove it" $.key .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.labels: the standard label set of an object of one component, with commonLabels and, optionally, user labels "extra" from the value "extraKey" (which win over commonLabels); call with (dict "root" $ "component" NAME [ "extra" MAP "extraKey" PATH ]). */}}
{{- define "airflow.labels" -}}
{{- $labels := dict
  "app.kubernetes.io/version" .root.Chart.AppVersion
  "app.kubernetes.io/managed-by" .root.Release.Service
  "helm.sh/chart" (printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_") -}}
{{- with .extra -}}
{{- include "airflow.checkLabels" (dict "key" $.extraKey "value" .) -}}
{{- $labels = merge $labels . -}}
{{- end -}}
{{- include "airflow.selectorLabels" . }}
{{ merge $labels .root.Values.commonLabels | toYaml }}
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
  - name: {{ . | quote }}
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
  namespace: {{ .root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" (dict "root" .root "component" .component) | nindent 4 }}
  annotations:
    # The data outlives the release: delete the claim by hand to drop it.
    helm.sh/resource-policy: keep
spec:
  accessModes: {{ toJson .accessModes }}
  {{- with .storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .size | quote }}
{{- end -}}

{{/* airflow.keptPasswords: a Secret of generated URL-safe passwords, each reused from the Secret already in the cluster and kept on uninstall (the data they open outlives the release); call with (dict "root" $ "component" C "name" N "keys" LIST). */}}
{{- define "airflow.keptPasswords" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace | quote }}
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

{{/* airflow.quantity: a Kubernetes quantity (a string such as 512Mi or 100m, or a number) as a float64 in base units (bytes, cores). */}}
{{- define "airflow.quantity" -}}
{{- $q := toString . -}}
{{- $suffix := regexFind "[A-Za-z]+$" $q -}}
{{- $factors := dict "" 1.0 "n" 1e-9 "u" 1e-6 "m" 1e-3 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18
  "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- mulf (trimSuffix $suffix $q | float64) (get $factors $suffix) -}}
{{- end -}}

{{/* airflow.decimalAbove: "true" when decimal A is above decimal B, compared digit by digit (exact where floats are not); call with (list A B), plain non-negative decimals such as 12.5 or .5. */}}
{{- define "airflow.decimalAbove" -}}
{{- $a := splitList "." (index . 0) -}}
{{- $b := splitList "." (index . 1) -}}
{{- $aInt := regexReplaceAll "^0+" (first $a) "" -}}
{{- $bInt := regexReplaceAll "^0+" (first $b) "" -}}
{{- $aFrac := (rest $a | first) | default "" -}}
{{- $bFrac := (rest $b | first) | default "" -}}
{{- $width := max (len $aFrac) (len $bFrac) -}}
{{- $aFrac = printf "%s%s" $aFrac (repeat (sub $width (len $aFrac) | int) "0") -}}
{{- $bFrac = printf "%s%s" $bFrac (repeat (sub $width (len $bFrac) | int) "0") -}}
{{- if ne (len $aInt) (len $bInt) -}}
{{- if gt (len $aInt) (len $bInt) }}true{{ end -}}
{{- else if ne $aInt $bInt -}}
{{- if gt $aInt $bInt }}true{{ end -}}
{{- else if gt $aFrac $bFrac }}true
{{- end -}}
{{- end -}}

{{/* airflow.quantityAbove: "true" when quantity A is above quantity B. Floats decide unless the two lie within float precision (1e-12): then, written in the same unit without an exponent, their digits decide exactly; otherwise they count as equal (100m and 0.1). Call with (list A B). */}}
{{- define "airflow.quantityAbove" -}}
{{- $a := index . 0 | toString -}}
{{- $b := index . 1 | toString -}}
{{- $fa := include "airflow.quantity" $a | float64 -}}
{{- $fb := include "airflow.quantity" $b | float64 -}}
{{- $unit := regexFind "[A-Za-z]+$" $a -}}
{{- if gt $fa (mulf $fb 1.000000000001) }}true
{{- else if and (ge $fa (mulf $fb 0.999999999999)) (eq $unit (regexFind "[A-Za-z]+$" $b)) -}}
{{- $ma := trimSuffix $unit $a -}}
{{- $mb := trimSuffix $unit $b -}}
{{- if not (regexMatch "[eE]" (printf "%s%s" $ma $mb)) -}}
{{- include "airflow.decimalAbove" (list $ma $mb) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.resources: a container's resources as YAML, after the API server's rules (a request at most its limit; extended resources and huge pages requested exactly as limited); call with (dict "key" VALUE_PATH "value" RESOURCES). */}}
{{- define "airflow.resources" -}}
{{- $limits := .value.limits | default dict -}}
{{- range $name, $request := .value.requests | default dict -}}
{{- $exact := or (contains "/" $name) (hasPrefix "hugepages-" $name) -}}
{{- if hasKey $limits $name -}}
{{- $limit := get $limits $name -}}
{{- if include "airflow.quantityAbove" (list $request $limit) -}}
{{- fail (printf "%s: requests.%s (%v) is above limits.%s (%v)" $.key $name $request $name $limit) -}}
{{- else if and $exact (include "airflow.quantityAbove" (list $limit $request)) -}}
{{- fail (printf "%s: requests.%s (%v) must equal limits.%s (%v): it cannot be overcommitted" $.key $name $request $name $limit) -}}
{{- end -}}
{{- else if $exact -}}
{{- fail (printf "%s: requests.%s needs limits.%s with the same value: it cannot be overcommitted" $.key $name $name) -}}
{{- end -}}
{{- end -}}
{{- toYaml .value -}}
{{- end -}}
