{{/*
Names, labels, the generated osprey.toml, the checks of the values, and the pod
template every role shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "osprey.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects. Truncated to 40 characters so that
"<fullname>-compactor" stays within 52, the longest StatefulSet name whose pods'
controller-revision-hash label still fits in 63.
*/}}
{{- define "osprey.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one role's objects: (dict "root" $ "component" "ingester"). */}}
{{- define "osprey.componentName" -}}
{{- printf "%s-%s" (include "osprey.fullname" .root) .component }}
{{- end }}

{{- define "osprey.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one role: (dict "root" $ "component" "querier"). */}}
{{- define "osprey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "osprey.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* All standard labels: (dict "root" $ "component" "querier"); component may be "". */}}
{{- define "osprey.labels" -}}
helm.sh/chart: {{ include "osprey.chart" .root }}
{{ include "osprey.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: {{ include "osprey.name" .root }}
{{- end }}

{{- define "osprey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "osprey.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "osprey.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the S3 credentials, or "" when none is used. */}}
{{- define "osprey.s3SecretName" -}}
{{- if .Values.s3.existingSecret }}
{{- .Values.s3.existingSecret }}
{{- else if and .Values.s3.accessKeyId .Values.s3.secretAccessKey }}
{{- printf "%s-s3" (include "osprey.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Secret holding the node-to-node token. */}}
{{- define "osprey.clusterTokenSecretName" -}}
{{- if .Values.clusterToken.existingSecret }}
{{- .Values.clusterToken.existingSecret }}
{{- else }}
{{- printf "%s-cluster-token" (include "osprey.fullname" .) }}
{{- end }}
{{- end }}

{{/* storage.object_store: s3://BUCKET or s3://BUCKET/PREFIX. */}}
{{- define "osprey.objectStore" -}}
{{- $prefix := trimAll "/" .Values.s3.prefix }}
{{- if $prefix }}
{{- printf "s3://%s/%s" .Values.s3.bucket $prefix }}
{{- else }}
{{- printf "s3://%s" .Values.s3.bucket }}
{{- end }}
{{- end }}

{{/* Where the pods mount things. */}}
{{- define "osprey.configDir" -}}/etc/osprey{{- end }}
{{- define "osprey.dataDir" -}}/var/lib/osprey{{- end }}
{{- define "osprey.clusterTokenDir" -}}/var/run/secrets/osprey/cluster{{- end }}

{{/*
The ingesters' internal addresses in ordinal order: the stable DNS names the
headless Service gives the StatefulSet's pods.
*/}}
{{- define "osprey.ingesterAddresses" -}}
{{- $name := include "osprey.componentName" (dict "root" . "component" "ingester") }}
{{- $out := list }}
{{- range $i := until (int .Values.ingester.replicas) }}
{{- $out = append $out (printf "%s-%d.%s.%s.svc.%s:%d" $name $i $name $.Release.Namespace $.Values.clusterDomain (int $.Values.ports.internal)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The compactor's internal address (its pod's stable DNS name): queriers pass the
alerting API on to it, since the rules and the notifier run there.
*/}}
{{- define "osprey.compactorAddress" -}}
{{- $name := include "osprey.componentName" (dict "root" . "component" "compactor") }}
{{- printf "%s-0.%s.%s.svc.%s:%d" $name $name .Release.Namespace .Values.clusterDomain (int .Values.ports.internal) }}
{{- end }}

{{/*
Turn every whole float64 of a map (recursively, lists included) into an int64, in
place. Helm reads every number of the values as a float64, which toToml would write
as "3.0", and Osprey's integer settings reject a float.
*/}}
{{- define "osprey.intify" -}}
{{- $m := . }}
{{- range $k, $v := $m }}
{{- if kindIs "float64" $v }}
{{- if eq (floor $v) $v }}
{{- $_ := set $m $k (int64 $v) }}
{{- end }}
{{- else if kindIs "map" $v }}
{{- include "osprey.intify" $v }}
{{- else if kindIs "slice" $v }}
{{- $items := list }}
{{- range $item := $v }}
{{- $box := dict "v" $item }}
{{- include "osprey.intify" $box }}
{{- $items = append $items $box.v }}
{{- end }}
{{- $_ := set $m $k $items }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The whole configuration as a dict, stored into .out.config:
(dict "root" $ "out" $holder). The chart's settings first, then .Values.config
merged over them.
*/}}
{{- define "osprey.mergedConfig" -}}
{{- $v := .root.Values }}
{{- $server := dict
  "data_dir" (include "osprey.dataDir" .root)
  "http_addr" (printf "0.0.0.0:%d" (int $v.ports.http))
  "otlp_grpc_addr" (printf "0.0.0.0:%d" (int $v.ports.otlpGrpc))
  "otlp_http_addr" (printf "0.0.0.0:%d" (int $v.ports.otlpHttp))
  "shutdown_timeout" (printf "%ds" (int $v.shutdownTimeoutSeconds)) }}
{{- if $v.auth.allowUnauthenticated }}
{{- $_ := set $server "allow_unauthenticated" true }}
{{- end }}
{{- $cfg := dict "server" $server }}
{{- if $v.auth.tokens }}
{{- $_ := set $cfg "auth" (dict "tokens" (deepCopy $v.auth.tokens)) }}
{{- end }}
{{- if $v.s3.bucket }}
{{- $storage := dict "object_store" (include "osprey.objectStore" .root) "s3_region" $v.s3.region }}
{{- if $v.s3.endpoint }}
{{- $_ := set $storage "s3_endpoint" $v.s3.endpoint }}
{{- end }}
{{- $_ := set $cfg "storage" $storage }}
{{- end }}
{{- if eq $v.mode "distributed" }}
{{- $_ := set $cfg "cluster" (dict
  "ingesters" (include "osprey.ingesterAddresses" .root | fromJsonArray)
  "compactor" (include "osprey.compactorAddress" .root)
  "internal_addr" (printf "0.0.0.0:%d" (int $v.ports.internal))
  "token_file" (printf "%s/token" (include "osprey.clusterTokenDir" .root))
  "manifest" "bucket") }}
{{- end }}
{{- $cfg = mergeOverwrite $cfg (deepCopy (default (dict) $v.config)) }}
{{- include "osprey.intify" $cfg }}
{{- $_ := set .out "config" $cfg }}
{{- end }}

{{/* osprey.toml */}}
{{- define "osprey.configToml" -}}
{{- $holder := dict }}
{{- include "osprey.mergedConfig" (dict "root" . "out" $holder) }}
{{- toToml $holder.config }}
{{- end }}

{{/*
The checks a schema cannot express; each failure names the values to set.
*/}}
{{- define "osprey.validate" -}}
{{- $v := .Values }}
{{- $problems := list }}
{{- $holder := dict }}
{{- include "osprey.mergedConfig" (dict "root" . "out" $holder) }}
{{- $cfg := $holder.config }}
{{- $server := default (dict) $cfg.server }}
{{- $auth := default (dict) $cfg.auth }}
{{- if eq $v.mode "distributed" }}
{{- if not $v.s3.bucket }}
{{- $problems = append $problems "mode=distributed needs s3.bucket: ingesters, queriers and the compactor share the data files and the manifest through one bucket." }}
{{- end }}
{{- if not (or $v.clusterToken.existingSecret $v.clusterToken.value) }}
{{- $problems = append $problems "mode=distributed needs a node-to-node token: set clusterToken.existingSecret (and clusterToken.key) or clusterToken.value." }}
{{- end }}
{{- if lt (int $v.ingester.replicas) 1 }}
{{- $problems = append $problems "ingester.replicas must be at least 1." }}
{{- end }}
{{- end }}
{{- if not (or $auth.tokens $server.allow_unauthenticated) }}
{{- $problems = append $problems "auth.tokens is empty: the pods listen beyond loopback, where Osprey refuses to start without API tokens. Add auth.tokens (make one with `osprey token create`), or set auth.allowUnauthenticated=true to let anyone who reaches a Service read and write every tenant." }}
{{- end }}
{{- if (default (dict) $v.config.server).shutdown_timeout }}
{{- $problems = append $problems "set shutdownTimeoutSeconds, not config.server.shutdown_timeout: the chart checks it against terminationGracePeriodSeconds." }}
{{- end }}
{{- if le (int $v.terminationGracePeriodSeconds) (int $v.shutdownTimeoutSeconds) }}
{{- $problems = append $problems (printf "terminationGracePeriodSeconds (%d) must be larger than shutdownTimeoutSeconds (%d): on SIGTERM Osprey flushes its memtables within shutdown_timeout, and Kubernetes kills the pod after the grace period." (int $v.terminationGracePeriodSeconds) (int $v.shutdownTimeoutSeconds)) }}
{{- end }}
{{- if and $v.s3.existingSecret (or $v.s3.accessKeyId $v.s3.secretAccessKey) }}
{{- $problems = append $problems "set either s3.existingSecret or s3.accessKeyId/s3.secretAccessKey, not both." }}
{{- end }}
{{- if and (not $v.s3.existingSecret) (ne (empty $v.s3.accessKeyId) (empty $v.s3.secretAccessKey)) }}
{{- $problems = append $problems "s3.accessKeyId and s3.secretAccessKey go together: set both, or s3.existingSecret." }}
{{- end }}
{{- if and $v.serviceMonitor.enabled $auth.tokens (not (and $v.serviceMonitor.bearerTokenSecret.name $v.serviceMonitor.bearerTokenSecret.key)) }}
{{- $problems = append $problems "serviceMonitor.enabled with auth.tokens: /metrics needs a token with the admin scope; set serviceMonitor.bearerTokenSecret.name and .key to the Secret holding it." }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\n\nosprey: %d problem(s) with the values:\n  - %s\n" (len $problems) (join "\n  - " $problems)) }}
{{- end }}
{{- end }}

{{/*
The pod template of one role:
(dict "root" $ "component" "ingester" "role" "ingester" "values" .Values.ingester
      "dataVolume" <volume source dict, or nil when a volumeClaimTemplate "data" provides it>
      "internal" <bool: expose the node-to-node port>)
*/}}
{{- define "osprey.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $rv := .values -}}
metadata:
  labels:
    {{- include "osprey.labels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "osprey.configToml" $root | sha256sum }}
    {{- if and (not $v.s3.existingSecret) $v.s3.accessKeyId }}
    checksum/s3: {{ printf "%s/%s" $v.s3.accessKeyId $v.s3.secretAccessKey | sha256sum }}
    {{- end }}
    {{- if and (eq $v.mode "distributed") (not $v.clusterToken.existingSecret) }}
    checksum/cluster-token: {{ $v.clusterToken.value | sha256sum }}
    {{- end }}
    {{- with merge (dict) (default (dict) $rv.podAnnotations) $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "osprey.serviceAccountName" $root }}
  # Osprey never calls the Kubernetes API.
  automountServiceAccountToken: false
  # No Docker-link variables: for a Service named osprey-query Kubernetes would set
  # OSPREY_QUERY_SERVICE_HOST, OSPREY_QUERY_PORT, ..., which Osprey reads as
  # OSPREY_<SECTION>_<KEY> overrides (query.service_host) and refuses to start.
  enableServiceLinks: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  # SIGTERM: Osprey stops accepting, finishes requests in flight and flushes its
  # memtables within server.shutdown_timeout ({{ int $v.shutdownTimeoutSeconds }}s).
  terminationGracePeriodSeconds: {{ int $v.terminationGracePeriodSeconds }}
  containers:
    - name: osprey
      image: {{ include "osprey.image" $root | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- with $v.image.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      args:
        - serve
        - --config
        - {{ include "osprey.configDir" $root }}/osprey.toml
        - --role
        - {{ .role }}
      {{- $s3Secret := include "osprey.s3SecretName" $root }}
      {{- $idKey := "AWS_ACCESS_KEY_ID" }}
      {{- $secretKey := "AWS_SECRET_ACCESS_KEY" }}
      {{- if $v.s3.existingSecret }}
      {{- $idKey = $v.s3.accessKeyIdKey }}
      {{- $secretKey = $v.s3.secretAccessKeyKey }}
      {{- end }}
      {{- if or $s3Secret $v.extraEnv }}
      env:
        {{- if $s3Secret }}
        - name: AWS_ACCESS_KEY_ID
          valueFrom:
            secretKeyRef:
              name: {{ $s3Secret }}
              key: {{ $idKey }}
        - name: AWS_SECRET_ACCESS_KEY
          valueFrom:
            secretKeyRef:
              name: {{ $s3Secret }}
              key: {{ $secretKey }}
        {{- if and $v.s3.existingSecret $v.s3.sessionTokenKey }}
        - name: AWS_SESSION_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $s3Secret }}
              key: {{ $v.s3.sessionTokenKey }}
        {{- end }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ int $v.ports.http }}
          protocol: TCP
        {{- if has .role (list "all" "ingester") }}
        - name: otlp-grpc
          containerPort: {{ int $v.ports.otlpGrpc }}
          protocol: TCP
        - name: otlp-http
          containerPort: {{ int $v.ports.otlpHttp }}
          protocol: TCP
        {{- end }}
        {{- if .internal }}
        - name: internal
          containerPort: {{ int $v.ports.internal }}
          protocol: TCP
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
          scheme: {{ $v.probes.scheme }}
        periodSeconds: {{ int $v.probes.startup.periodSeconds }}
        failureThreshold: {{ int $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
          scheme: {{ $v.probes.scheme }}
        periodSeconds: {{ int $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ int $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ int $v.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
          scheme: {{ $v.probes.scheme }}
        periodSeconds: {{ int $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ int $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ int $v.probes.readiness.failureThreshold }}
      {{- with $rv.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "osprey.configDir" $root }}
          readOnly: true
        - name: data
          mountPath: {{ include "osprey.dataDir" $root }}
        - name: tmp
          mountPath: /tmp
        {{- if eq $v.mode "distributed" }}
        - name: cluster-token
          mountPath: {{ include "osprey.clusterTokenDir" $root }}
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "osprey.fullname" $root }}
    - name: tmp
      emptyDir: {}
    {{- with .dataVolume }}
    - name: data
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if eq $v.mode "distributed" }}
    - name: cluster-token
      secret:
        secretName: {{ include "osprey.clusterTokenSecretName" $root }}
        defaultMode: 0440
        items:
          - key: {{ if $v.clusterToken.existingSecret }}{{ $v.clusterToken.key }}{{ else }}token{{ end }}
            path: token
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $rv.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $rv.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $rv.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $rv.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* A volumeClaimTemplate named "data": (dict "root" $ "size" "10Gi"). */}}
{{- define "osprey.dataClaim" -}}
- metadata:
    name: data
  spec:
    accessModes:
      {{- toYaml .root.Values.persistence.accessModes | nindent 6 }}
    {{- with .root.Values.persistence.storageClass }}
    storageClassName: {{ eq . "-" | ternary "" . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end }}
