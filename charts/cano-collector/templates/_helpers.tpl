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

{{/* The collector's config file. */}}
{{- define "cano-collector.config" -}}
{{- $dirs := list }}
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
{{- $config = merge $config (deepCopy .Values.config.extra) }}
{{- toYaml $config }}
{{- end }}
