{{/* Rules no single value's schema can express: combinations of values, and names built from several of them. */}}

{{/* airflow.checks.release: what every release needs: something to deploy, object names Kubernetes accepts, labels of its own. */}}
{{- define "airflow.checks.release" -}}
{{- if not (or .Values.base.enabled .Values.cluster.enabled) -}}
{{- fail "base.enabled and cluster.enabled are both false: this release would deploy nothing" -}}
{{- end -}}
{{- $prefix := include "airflow.fullname" . -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $prefix) -}}
{{- fail (printf "object names would start with %q (from the release name %q): it must start with a letter and hold only a-z, 0-9 and '-'; choose another release name or set fullnameOverride" $prefix .Release.Name) -}}
{{- end -}}
{{- include "airflow.checkLabels" (dict "key" "commonLabels" "value" .Values.commonLabels) -}}
{{- end -}}

{{/* airflow.checks.cluster: combinations of cluster values that cannot work. */}}
{{- define "airflow.checks.cluster" -}}
{{- $v := .Values.cluster -}}
{{- if and $v.flower.enabled (ne (include "airflow.executor.celery" .) "true") -}}
{{- fail (printf "cluster.flower.enabled needs cluster.executor to include CeleryExecutor (it is %s)" $v.executor) -}}
{{- end -}}
{{- $svc := $v.apiServer.service -}}
{{- if and (has $svc.type (list "NodePort" "LoadBalancer")) (not $svc.plainHttpAcknowledged) -}}
{{- fail (printf "cluster.apiServer.service.type: a %s Service serves the UI and its logins over plain HTTP; use cluster.apiServer.ingress or httpRoute (TLS), or set cluster.apiServer.service.plainHttpAcknowledged: true when TLS ends in front of it" $svc.type) -}}
{{- end -}}
{{- if and $v.auth.admin.password (not $.Values.generateSecrets) -}}
{{- fail (printf "cluster.auth.admin.password: with generateSecrets false the chart writes no Secret; put the password under key admin-password of Secret %s" (include "airflow.secrets.name" $)) -}}
{{- end -}}
{{- if and $v.podOperator.extraNamespaces (not $v.podOperator.enabled) -}}
{{- fail "cluster.podOperator.extraNamespaces is set but cluster.podOperator.enabled is false" -}}
{{- end -}}
{{- range $v.podOperator.extraNamespaces -}}
{{- if has . (list "kube-system" "kube-public" "kube-node-lease") -}}
{{- fail (printf "cluster.podOperator.extraNamespaces: %s is a Kubernetes system namespace; the workers must not get rights to launch pods there" .) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $v.executor "LocalExecutor") (gt (int64 $v.scheduler.replicas) 1) -}}
{{- fail "cluster.scheduler.replicas > 1 with cluster.executor LocalExecutor runs tasks on every scheduler: use CeleryExecutor or KubernetesExecutor for HA" -}}
{{- end -}}
{{- range $key, $_ := $v.podAnnotations -}}
{{- if hasPrefix "checksum/" $key -}}
{{- fail (printf "cluster.podAnnotations.%s: checksum/ annotations are set by the chart; remove it" $key) -}}
{{- end -}}
{{- end -}}
{{- include "airflow.checkLabels" (dict "key" "cluster.kubernetes.labels" "value" $v.kubernetes.labels) -}}
{{- include "airflow.dags.validate" . -}}
{{- include "airflow.checks.env" . -}}
{{- include "airflow.checks.paths" . -}}
{{- include "airflow.checks.spread" . -}}
{{- include "airflow.checks.ports" . -}}
{{- include "airflow.logging.validate" . -}}
{{- include "airflow.database.validate" . -}}
{{- include "airflow.pgbouncer.validate" . -}}
{{- include "airflow.workers.validate" . -}}
{{- include "airflow.cleanup.validate" . -}}
{{- include "airflow.checks.asCode" . -}}
{{- end -}}

{{/* airflow.checks.asCode: connection ids and variable keys name one environment variable each (Airflow upper-cases them), pool names one pool. */}}
{{- define "airflow.checks.asCode" -}}
{{- range $list, $field := dict "connections" "id" "variables" "key" "pools" "name" -}}
{{- $seen := dict -}}
{{- range $i, $item := get $.Values.cluster $list -}}
{{- $name := upper (get $item $field) -}}
{{- if hasKey $seen $name -}}
{{- fail (printf "cluster.%s[%d].%s: %s is given twice (also at [%d])" $list $i $field (get $item $field) (get $seen $name)) -}}
{{- end -}}
{{- $_ := set $seen $name $i -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.checks.paths: the DAG and log folders must not cover the image's own files, the chart's mounts, or each other. */}}
{{- define "airflow.checks.paths" -}}
{{- $mounts := list "/tmp" "/opt/airflow/airflow.cfg" "/opt/airflow/webserver_config.py" "/opt/airflow/pod_templates" "/etc/airflow" "/etc/git-secret" "/etc/git-known-hosts" -}}
{{- $system := list "/bin" "/dev" "/etc" "/home" "/home/airflow" "/lib" "/lib64" "/opt" "/opt/airflow" "/proc" "/root" "/run" "/sbin" "/sys" "/usr" "/usr/local" "/var" -}}
{{- $dags := .Values.cluster.dags.path -}}
{{- $logs := include "airflow.logFolder" . -}}
{{- if or (eq $dags $logs) (hasPrefix (printf "%s/" $dags) $logs) (hasPrefix (printf "%s/" $logs) $dags) -}}
{{- fail (printf "cluster.dags.path (%s) and cluster.config.logging.base_log_folder (%s) overlap; give each a folder of its own" $dags $logs) -}}
{{- end -}}
{{- range $key, $path := dict "cluster.dags.path" $dags "cluster.config.logging.base_log_folder" $logs -}}
{{- if has $path $system -}}
{{- fail (printf "%s: %s would hide the image's own files; choose a folder of its own, e.g. /opt/airflow/dags" $key $path) -}}
{{- end -}}
{{- range $mounts -}}
{{- if or (eq $path .) (hasPrefix (printf "%s/" $path) .) (hasPrefix (printf "%s/" .) $path) -}}
{{- fail (printf "%s: %s overlaps %s, where the chart mounts other files; choose a folder of its own" $key $path .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.checks.spread: topology spread constraints, each (topologyKey, whenUnsatisfiable) pair once per list, as the API server requires. */}}
{{- define "airflow.checks.spread" -}}
{{- $v := .Values.cluster -}}
{{- $placements := dict "cluster.placement" $v.placement -}}
{{- range list "apiServer" "scheduler" "dagProcessor" "triggerer" "workers" "flower" "kubernetes" -}}
{{- $_ := set $placements (printf "cluster.%s.placement" .) (get $v .).placement -}}
{{- end -}}
{{- range $key, $p := $placements -}}
{{- $seen := dict -}}
{{- range $i, $c := $p.topologySpreadConstraints | default list -}}
{{- $pair := printf "%s/%s" $c.topologyKey $c.whenUnsatisfiable -}}
{{- if hasKey $seen $pair -}}
{{- fail (printf "%s.topologySpreadConstraints[%d]: topologyKey %s with whenUnsatisfiable %s appears twice" $key $i $c.topologyKey $c.whenUnsatisfiable) -}}
{{- end -}}
{{- $_ := set $seen $pair true -}}
{{- $selector := $c.labelSelector | default dict -}}
{{- $selected := keys ($selector.matchLabels | default dict) -}}
{{- range $selector.matchExpressions | default list -}}{{ $selected = append $selected .key }}{{- end -}}
{{- range $c.matchLabelKeys | default list -}}
{{- if has . $selected -}}
{{- fail (printf "%s.topologySpreadConstraints[%d].matchLabelKeys: %s is already in labelSelector" $key $i .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* airflow.checks.ports: the worker's log server must not take a git-sync sidecar's health port. */}}
{{- define "airflow.checks.ports" -}}
{{- $v := .Values.cluster -}}
{{- if and (eq (include "airflow.executor.celery" .) "true") (eq $v.dags.mode "gitSync") -}}
{{- $port := dig "logging" "worker_log_server_port" 8793 $v.config | int -}}
{{- $first := include "airflow.dags.gitSyncPort" 0 | int -}}
{{- if and (ge $port $first) (lt $port (add $first (len $v.dags.git.repos))) -}}
{{- fail (printf "cluster.config.logging.worker_log_server_port: %d is the health port of a git-sync sidecar (%d and up, one per repository); choose another" $port $first) -}}
{{- end -}}
{{- end -}}
{{- end -}}
