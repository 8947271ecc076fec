{{/* The chart name, overridable. */}}
{{- define "cano-collector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: release name, plus the chart name unless it already has it. */}}
{{- define "cano-collector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cano-collector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cano-collector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cano-collector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cano-collector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cano-collector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cano-collector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret mounted under /etc/cano-collector/secrets, or "" when there is none. */}}
{{- define "cano-collector.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.values }}
{{- include "cano-collector.fullname" . }}
{{- end }}
{{- end }}

{{/* image-volume or init-copy, resolving "auto" from the cluster's version. */}}
{{- define "cano-collector.pluginMode" -}}
{{- $mode := .Values.plugins.mode }}
{{- if eq $mode "auto" }}
{{- if semverCompare ">=1.33-0" .Capabilities.KubeVersion.Version }}image-volume{{ else }}init-copy{{ end }}
{{- else if or (eq $mode "image-volume") (eq $mode "init-copy") }}
{{- $mode }}
{{- else }}
{{- fail (printf "plugins.mode must be auto, image-volume or init-copy, not %q" $mode) }}
{{- end }}
{{- end }}

{{/* Plugin names become volume names and directories: keep them DNS labels. */}}
{{- define "cano-collector.checkPluginName" -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$" .) }}
{{- fail (printf "plugin name %q must be a DNS label (lowercase letters, digits, '-'), at most 42 characters" .) }}
{{- end }}
{{- end }}

{{/* Mount points of the PostgreSQL URL and CA files (one projected volume). */}}
{{- define "cano-collector.postgresDir" -}}/etc/cano-collector/postgres{{- end }}

{{/* Whether the SQLite data_dir is on a PersistentVolumeClaim: "true" or "". */}}
{{- define "cano-collector.persistent" -}}
{{- if and (not .Values.storage.postgres.enabled) .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{/* The claim holding data_dir, when persistent. */}}
{{- define "cano-collector.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "cano-collector.fullname" .)) }}
{{- end }}

{{/*
Refuses values that would make a broken install. Several replicas need the shared store:
each replica's own SQLite outbox would dedup, order and update messages by itself, so an
alert posted to two replicas would be delivered twice, a resolve could overtake its firing
message on another replica, and a resolve handled by a replica that did not post the
firing message has no reference to update it with.
*/}}
{{- define "cano-collector.validate" -}}
{{- $pg := .Values.storage.postgres }}
{{- if and (gt (int .Values.replicaCount) 1) (not $pg.enabled) }}
{{- fail (printf "replicaCount=%d needs storage.postgres.enabled=true (docs/ha.md). Each replica would keep its own SQLite outbox, which breaks dedup (an alert posted to two replicas is delivered twice), ordering (a resolve on one replica can overtake its firing message on another) and message updates (the replica that gets the resolve lacks the reference of the message to update). Use replicaCount=1, or a PostgreSQL shared by all replicas." (int .Values.replicaCount)) }}
{{- end }}
{{- if $pg.url }}
{{- fail "storage.postgres.url is not a value of this chart: put the URL in a Secret and name it in storage.postgres.urlSecret (the ConfigMap must not carry the password)" }}
{{- end }}
{{- if .Values.config.extra.storage }}
{{- fail "config.extra.storage is not allowed: use the storage.postgres values (the URL comes from a Secret, never the ConfigMap)" }}
{{- end }}
{{- if $pg.enabled }}
{{- if not $pg.urlSecret.name }}
{{- fail "storage.postgres.urlSecret.name is required with storage.postgres.enabled: the Secret that holds the PostgreSQL URL (key storage.postgres.urlSecret.key)" }}
{{- end }}
{{- if and $pg.ca.secretName $pg.ca.configMapName }}
{{- fail "storage.postgres.ca: set secretName or configMapName, not both" }}
{{- end }}
{{- if or (lt (int $pg.poolSize) 1) (gt (int $pg.poolSize) 100) }}
{{- fail (printf "storage.postgres.poolSize must be from 1 to 100, not %v" $pg.poolSize) }}
{{- end }}
{{- $lease := toString $pg.claimLease }}
{{- if not (regexMatch "^[0-9]+(ms|s|m|h)$" $lease) }}
{{- fail (printf "storage.postgres.claimLease must be a duration such as 30s or 1m, not %q" $lease) }}
{{- end }}
{{- $amount := regexFind "^[0-9]+" $lease | int }}
{{- $unit := trimPrefix (toString $amount) $lease }}
{{- $ms := mul $amount (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit) }}
{{- if lt (int $ms) 3000 }}
{{- fail (printf "storage.postgres.claimLease must be at least 3s (a replica renews its claims every third of it), not %s" $lease) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The collector's config file. */}}
{{- define "cano-collector.config" -}}
{{- $dirs := list }}
{{- if .Values.plugins.builtin }}
{{- $dirs = append $dirs "/usr/lib/cano-collector/builtin" }}
{{- end }}
{{- range .Values.plugins.images }}
{{- include "cano-collector.checkPluginName" .name }}
{{- $dirs = append $dirs (printf "/usr/lib/cano-collector/plugins/%s" .name) }}
{{- end }}
{{- range .Values.plugins.volumes }}
{{- include "cano-collector.checkPluginName" .name }}
{{- $dirs = append $dirs (printf "/usr/lib/cano-collector/plugins/%s" .name) }}
{{- end }}
{{- $defaults := .Values.config.default_destinations }}
{{- if and (not $defaults) (not .Values.config.routes) }}
{{- range .Values.config.destinations }}{{ $defaults = append $defaults .name }}{{ end }}
{{- end }}
{{- $config := dict
  "server" (dict "host" "0.0.0.0" "port" (int .Values.server.port))
  "data_dir" "/var/lib/cano-collector"
  "plugins" (dict "directories" $dirs)
  "destinations" .Values.config.destinations
  "routes" .Values.config.routes
  "default_destinations" $defaults
}}
{{- if .Values.kubernetes.enabled }}
{{- $kube := dict "enabled" true "leader_election" (dict "enabled" true "lease_name" .Values.leaderElection.leaseName) }}
{{- $_ := set $config "kubernetes" (merge $kube (deepCopy .Values.kubernetes.settings)) }}
{{- end }}
{{- if .Values.config.cluster }}
{{- $_ := set $config "cluster" .Values.config.cluster }}
{{- end }}
{{- if .Values.ui.enabled }}
{{- $ui := dict "enabled" true "history" (int .Values.ui.history) }}
{{- with .Values.ui.basicAuth }}
{{- if .username }}
{{- $_ := set $ui "auth" (dict "basic_auth" (dict "username" .username "password_file" (printf "/etc/cano-collector/secrets/%s" .passwordSecretKey))) }}
{{- end }}
{{- end }}
{{- $_ := set $config "ui" $ui }}
{{- end }}
{{- with .Values.storage.postgres }}
{{- if .enabled }}
{{- $dir := include "cano-collector.postgresDir" $ }}
{{- $pg := dict "url_file" (printf "%s/url" $dir) "pool_size" (int .poolSize) "claim_lease" (toString .claimLease) }}
{{- if or .ca.secretName .ca.configMapName }}
{{- $_ := set $pg "ca_file" (printf "%s/ca.crt" $dir) }}
{{- end }}
{{- $_ := set $config "storage" (dict "postgres" $pg) }}
{{- end }}
{{- end }}
{{- $config = merge $config (deepCopy .Values.config.extra) }}
{{- toYaml $config }}
{{- end }}
