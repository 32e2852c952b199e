{{/* Ways in from outside the cluster: an Ingress (always with TLS) or a Gateway API HTTPRoute (TLS on the Gateway's listener) per exposed component. */}}

{{/* airflow.exposure.targets: the exposable components as a JSON list of {component, port, key, values}: their Service's name suffix and port, and where their values live. */}}
{{- define "airflow.exposure.targets" -}}
{{- $c := .Values.cluster -}}
{{- $targets := list (dict "component" "api-server" "port" $c.apiServer.service.port "key" "cluster.apiServer" "values" $c.apiServer) -}}
{{- if $c.flower.enabled -}}
{{- $targets = append $targets (dict "component" "flower" "port" 5555 "key" "cluster.flower" "values" $c.flower) -}}
{{- end -}}
{{- toJson $targets -}}
{{- end -}}

{{/* airflow.exposure.backend: the Service name of a target; call with (dict "root" $ "target" T). */}}
{{- define "airflow.exposure.backend" -}}
{{- printf "%s-%s" (include "airflow.fullname" .root) .target.component -}}
{{- end -}}

{{/* airflow.exposure.ingress: a target's Ingress, TLS from a Secret or a cert-manager issuer; call with (dict "root" $ "target" T). */}}
{{- define "airflow.exposure.ingress" -}}
{{- $key := printf "%s.ingress" .target.key -}}
{{- $v := .target.values.ingress -}}
{{- $tls := $v.tls -}}
{{- if not $v.host -}}
{{- fail (printf "%s.host: required when %s.enabled is true" $key $key) -}}
{{- end -}}
{{- if and $tls.issuer $tls.clusterIssuer -}}
{{- fail (printf "%s.tls: set issuer or clusterIssuer, not both" $key) -}}
{{- end -}}
{{- $secret := $tls.secretName -}}
{{- if and (not $secret) (or $tls.issuer $tls.clusterIssuer) -}}
{{- $secret = printf "%s-tls" (include "airflow.exposure.backend" .) -}}
{{- end -}}
{{- if not $secret -}}
{{- fail (printf "%s.tls: set secretName (a kubernetes.io/tls Secret) or a cert-manager issuer or clusterIssuer; the Ingress always serves TLS" $key) -}}
{{- end -}}
{{- $annotations := deepCopy $v.annotations -}}
{{- range $name, $issuer := dict "cert-manager.io/issuer" $tls.issuer "cert-manager.io/cluster-issuer" $tls.clusterIssuer -}}
{{- if hasKey $annotations $name -}}
{{- fail (printf "%s.annotations: %s is set by %s.tls; remove it" $key $name $key) -}}
{{- end -}}
{{- if $issuer }}{{ $_ := set $annotations $name $issuer }}{{ end -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "airflow.exposure.backend" . }}
  namespace: {{ .root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" (dict "root" .root "component" .target.component) | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $v.className }}
  ingressClassName: {{ . | quote }}
  {{- end }}
  tls:
    - hosts: [{{ $v.host | quote }}]
      secretName: {{ $secret | quote }}
  rules:
    - host: {{ $v.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "airflow.exposure.backend" . }}
                port: {number: {{ .target.port | int64 }}}
{{- end -}}

{{/* airflow.exposure.httpRoute: a target's HTTPRoute on named Gateway listeners; call with (dict "root" $ "target" T). */}}
{{- define "airflow.exposure.httpRoute" -}}
{{- $key := printf "%s.httpRoute" .target.key -}}
{{- $v := .target.values.httpRoute -}}
{{- if not $v.parentRefs -}}
{{- fail (printf "%s.parentRefs: name at least one Gateway listener (name and sectionName of an HTTPS listener)" $key) -}}
{{- end -}}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {{ include "airflow.exposure.backend" . }}
  namespace: {{ .root.Release.Namespace | quote }}
  labels:
    {{- include "airflow.labels" (dict "root" .root "component" .target.component) | nindent 4 }}
spec:
  parentRefs:
    {{- range $v.parentRefs }}
    - name: {{ .name | quote }}
      {{- with .namespace }}
      namespace: {{ . | quote }}
      {{- end }}
      sectionName: {{ .sectionName | quote }}
    {{- end }}
  {{- with $v.hostnames }}
  hostnames: {{ toJson . }}
  {{- end }}
  rules:
    - matches:
        - path: {type: PathPrefix, value: /}
      backendRefs:
        - name: {{ include "airflow.exposure.backend" . }}
          port: {{ .target.port | int64 }}
{{- end -}}
