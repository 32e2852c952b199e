{{/* Helpers of the metrics objects (statsd-exporter, Prometheus Operator objects, dashboard). */}}

{{/* airflow.metrics.statsdPort: UDP port the exporter receives StatsD on ([metrics] statsd_port). */}}
{{- define "airflow.metrics.statsdPort" -}}9125{{- end -}}

{{/* airflow.metrics.operatorApi: "true" when Prometheus Operator objects may be rendered (the API is served, or metrics.force). */}}
{{- define "airflow.metrics.operatorApi" -}}
{{- or .Values.cluster.metrics.force (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
{{- end -}}

{{/* airflow.metrics.mappings: the exporter's mapping file: overrideMappings, or extraMappings before the chart's own. */}}
{{- define "airflow.metrics.mappings" -}}
{{- $m := .Values.cluster.metrics.exporter -}}
{{- $mappings := $m.overrideMappings | default (concat $m.extraMappings (.Files.Get "files/statsd-mappings.yaml" | fromYaml).mappings) -}}
{{- toYaml (dict "mappings" $mappings) -}}
{{- end -}}
