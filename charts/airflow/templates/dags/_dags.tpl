{{/* DAG sources (cluster.dags): which pods read DAG files, and the volumes, mounts and git-sync containers that give them the same files at the same path. */}}

{{/* airflow.dags.reads: "true" when a component's main container reads DAG files; call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.dags.reads" -}}
{{- if has .component (list "dag-processor" "triggerer" "worker" "task") -}}true
{{- else if eq .component "scheduler" -}}{{ eq .root.Values.cluster.executor "LocalExecutor" }}
{{- else -}}false
{{- end -}}
{{- end -}}

{{/* airflow.dags.git: "true" in the git modes (gitSync, gitInit). */}}
{{- define "airflow.dags.git" -}}{{ has .Values.cluster.dags.mode (list "gitSync" "gitInit") }}{{- end -}}

{{/* airflow.dags.ssh: "true" when a repository's URL is SSH (ssh:// or user@host:path); call with the repository. */}}
{{- define "airflow.dags.ssh" -}}{{ or (hasPrefix "ssh://" .url) (regexMatch "^[^/:@]+@[^/:]+:" .url) }}{{- end -}}

{{/* airflow.dags.claimName: the claim mounted in persistentVolume mode: the user's, the base's shared one, or the chart's own. */}}
{{- define "airflow.dags.claimName" -}}
{{- $pv := .Values.cluster.dags.persistentVolume -}}
{{- if $pv.existingClaim -}}{{ $pv.existingClaim }}
{{- else if $pv.useBaseStorage -}}{{ include "airflow.base.fullname" . }}-shared
{{- else -}}{{ include "airflow.fullname" . }}-dags
{{- end -}}
{{- end -}}

{{/* airflow.dags.subPath: folder of the claim holding the DAGs (on the base's storage: the cluster's own by default). */}}
{{- define "airflow.dags.subPath" -}}
{{- $pv := .Values.cluster.dags.persistentVolume -}}
{{- $pv.subPath | default (ternary (include "airflow.fullname" .) "" (and $pv.useBaseStorage (not $pv.existingClaim))) -}}
{{- end -}}

{{/* airflow.dags.bundles: Airflow 3's dag_bundle_config_list in git modes: one LocalDagBundle per repository, at the folder git-sync publishes. */}}
{{- define "airflow.dags.bundles" -}}
{{- $d := .Values.cluster.dags -}}
{{- $bundles := list -}}
{{- range $d.git.repos -}}
{{- $path := trimSuffix "/" (printf "%s/%s/%s" $d.path .name (.subPath | default "")) -}}
{{- $bundles = append $bundles (dict "name" .name "classpath" "airflow.dag_processing.bundles.local.LocalDagBundle" "kwargs" (dict "path" $path)) -}}
{{- end -}}
{{- toJson $bundles -}}
{{- end -}}

{{/* airflow.dags.validate: fails the render on DAG-source settings that cannot work, naming the keys. */}}
{{- define "airflow.dags.validate" -}}
{{- $d := .Values.cluster.dags -}}
{{- $git := eq (include "airflow.dags.git" .) "true" -}}
{{- if and $git (not $d.git.repos) -}}
{{- fail (printf "cluster.dags.mode is %s but cluster.dags.git.repos is empty: add a repository (name, url)" $d.mode) -}}
{{- end -}}
{{- if and $d.git.repos (not $git) -}}
{{- fail (printf "cluster.dags.git.repos is set but cluster.dags.mode is %s: set cluster.dags.mode to gitSync or gitInit" $d.mode) -}}
{{- end -}}
{{- if and $d.persistentVolume.useBaseStorage (not .Values.base.storage.enabled) -}}
{{- fail "cluster.dags.persistentVolume.useBaseStorage needs base.storage.enabled (set it as the base has it)" -}}
{{- end -}}
{{- if and $d.persistentVolume.existingClaim (ne $d.mode "persistentVolume") -}}
{{- fail (printf "cluster.dags.persistentVolume.existingClaim is set but cluster.dags.mode is %s: set cluster.dags.mode to persistentVolume" $d.mode) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $i, $r := $d.git.repos -}}
{{- $key := printf "cluster.dags.git.repos[%d] (%s)" $i $r.name -}}
{{- if hasKey $seen $r.name -}}
{{- fail (printf "%s: the name is used twice; each repository needs its own sub-folder" $key) -}}
{{- end -}}
{{- $_ := set $seen $r.name true -}}
{{- if eq (include "airflow.dags.ssh" $r) "true" -}}
{{- if not $r.credentialsSecret -}}
{{- fail (printf "%s: SSH URL %s needs credentialsSecret, a kubernetes.io/ssh-auth Secret with key ssh-privatekey" $key $r.url) -}}
{{- end -}}
{{- if not (or $d.git.knownHosts $d.git.sshInsecureSkipHostKeyCheck) -}}
{{- fail (printf "%s uses SSH but cluster.dags.git.knownHosts is empty: set it to the server's host keys (`ssh-keyscan -t ed25519,rsa HOST`, checked against the keys your provider publishes), or set cluster.dags.git.sshInsecureSkipHostKeyCheck=true to skip the check (insecure)" $key) -}}
{{- end -}}
{{- else if and $r.credentialsSecret (not (hasPrefix "https://" $r.url)) -}}
{{- fail (printf "%s: credentialsSecret is set but %s is neither https:// nor SSH; a token would travel unencrypted" $key $r.url) -}}
{{- end -}}
{{- if and (regexMatch "^[a-z]+://[^/@]*:[^/@]*@" $r.url) (not (hasPrefix "https://" $r.url)) -}}
{{- fail (printf "%s: the URL holds a password but is not https://; it would travel unencrypted (use credentialsSecret)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.dags.volumes: pod volumes a component needs for its DAGs (none in image mode); call with (dict "root" $ "component" NAME). */}}
{{- define "airflow.dags.volumes" -}}
{{- $d := .root.Values.cluster.dags -}}
{{- if eq (include "airflow.dags.reads" .) "true" -}}
{{- if eq $d.mode "persistentVolume" }}
- name: dags
  persistentVolumeClaim:
    claimName: {{ include "airflow.dags.claimName" .root | quote }}
    readOnly: true
{{- else if eq (include "airflow.dags.git" .root) "true" }}
- name: dags
  emptyDir: {}
{{- range $d.git.repos }}
{{- if eq (include "airflow.dags.ssh" .) "true" }}
- name: git-ssh-{{ .name }}
  secret:
    secretName: {{ .credentialsSecret | quote }}
    defaultMode: 288 # 0440: readable by git-sync through the pod's fsGroup
    items: [{key: ssh-privatekey, path: ssh}]
{{- end }}
{{- end }}
{{- if $d.git.knownHosts }}
- name: git-known-hosts
  configMap:
    name: {{ include "airflow.fullname" .root }}-git-known-hosts
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* airflow.dags.volumeMounts: the DAG mount of a component's main container, read-only at cluster.dags.path; same arguments. */}}
{{- define "airflow.dags.volumeMounts" -}}
{{- $d := .root.Values.cluster.dags -}}
{{- if and (eq (include "airflow.dags.reads" .) "true") (ne $d.mode "image") }}
- name: dags
  mountPath: {{ $d.path | quote }}
  readOnly: true
  {{- with and (eq $d.mode "persistentVolume") (include "airflow.dags.subPath" .root) }}
  subPath: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* airflow.dags.gitSyncContainer: a git-sync v4 container publishing one repository at <path>/<name>; call with (dict "root" $ "repo" REPO "index" N "oneTime" BOOL). */}}
{{- define "airflow.dags.gitSyncContainer" -}}
{{- $d := .root.Values.cluster.dags -}}
{{- $g := $d.git -}}
{{- $r := .repo -}}
{{- $ssh := eq (include "airflow.dags.ssh" $r) "true" -}}
{{- /* git-sync's own files stay in a hidden folder (--root); the DAGs appear at the link. */ -}}
{{- $args := list
  (printf "--repo=%s" $r.url)
  (printf "--ref=%s" ($r.ref | default "HEAD"))
  (printf "--depth=%d" (hasKey $r "depth" | ternary $r.depth 1 | int64))
  (printf "--submodules=%s" ($r.submodules | default "off"))
  (printf "--root=%s/.git-sync/%s" $d.path $r.name)
  (printf "--link=%s/%s" $d.path $r.name)
  (printf "--max-failures=%d" (int64 $g.maxFailures)) -}}
{{- if .oneTime -}}
{{- $args = append $args "--one-time" -}}
{{- else -}}
{{- $args = concat $args (list (printf "--period=%s" $g.period) (printf "--http-bind=:%s" (include "airflow.dags.gitSyncPort" .index))) -}}
{{- end -}}
{{- if $ssh -}}
{{- $args = concat $args (list "--ssh" (printf "--ssh-key-file=/etc/git-secret/%s/ssh" $r.name) (printf "--ssh-known-hosts=%t" (not $g.sshInsecureSkipHostKeyCheck))) -}}
{{- if $g.knownHosts -}}
{{- $args = append $args "--ssh-known-hosts-file=/etc/git-known-hosts/known_hosts" -}}
{{- end -}}
{{- end }}
- name: {{ ternary "git-clone" "git-sync" .oneTime }}-{{ $r.name }}
  image: {{ include "airflow.image" $g.image | quote }}
  imagePullPolicy: {{ $g.image.pullPolicy }}
  args: {{ toJson $args }}
  env:
    - name: HOME
      value: /tmp
    {{- if and $r.credentialsSecret (not $ssh) }}
    - name: GITSYNC_USERNAME
      valueFrom: {secretKeyRef: {name: {{ $r.credentialsSecret | quote }}, key: username}}
    - name: GITSYNC_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $r.credentialsSecret | quote }}, key: password}}
    {{- end }}
  {{- if not .oneTime }}
  livenessProbe:
    httpGet: {path: /, port: {{ include "airflow.dags.gitSyncPort" .index }}}
    initialDelaySeconds: 30
    periodSeconds: 30
    failureThreshold: 5
  readinessProbe:
    httpGet: {path: /, port: {{ include "airflow.dags.gitSyncPort" .index }}}
    periodSeconds: 30
  {{- end }}
  resources:
    {{- include "airflow.resources" (dict "key" "cluster.dags.git.resources" "value" $g.resources) | nindent 4 }}
  securityContext:
    # The image's own git-sync user; the pod's fsGroup lets it write the DAG volume.
    runAsUser: 65533
    runAsGroup: 65533
    {{- include "airflow.containerSecurityContext" .root | nindent 4 }}
  volumeMounts:
    - name: dags
      mountPath: {{ $d.path | quote }}
    - name: tmp
      mountPath: /tmp
    {{- if $ssh }}
    - name: git-ssh-{{ $r.name }}
      mountPath: /etc/git-secret/{{ $r.name }}
      readOnly: true
    {{- if $g.knownHosts }}
    - name: git-known-hosts
      mountPath: /etc/git-known-hosts
      readOnly: true
    {{- end }}
    {{- end }}
{{- end -}}

{{/* airflow.dags.gitSyncPort: port of the N-th git-sync sidecar's health endpoint. */}}
{{- define "airflow.dags.gitSyncPort" -}}{{ add 8100 . }}{{- end -}}

{{/* airflow.dags.initContainers: one-time clones so a DAG-reading pod never starts empty (git modes); same arguments as airflow.dags.volumes. */}}
{{- define "airflow.dags.initContainers" -}}
{{- if and (eq (include "airflow.dags.reads" .) "true") (eq (include "airflow.dags.git" .root) "true") -}}
{{- range $i, $r := .root.Values.cluster.dags.git.repos }}
{{ include "airflow.dags.gitSyncContainer" (dict "root" $.root "repo" $r "index" $i "oneTime" true) }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* airflow.dags.sidecars: git-sync containers that keep pulling (gitSync mode, long-running pods only: task pods keep the init clone); same arguments. */}}
{{- define "airflow.dags.sidecars" -}}
{{- if and (eq (include "airflow.dags.reads" .) "true") (eq .root.Values.cluster.dags.mode "gitSync") (ne .component "task") -}}
{{- range $i, $r := .root.Values.cluster.dags.git.repos }}
{{ include "airflow.dags.gitSyncContainer" (dict "root" $.root "repo" $r "index" $i "oneTime" false) }}
{{- end }}
{{- end -}}
{{- end -}}
