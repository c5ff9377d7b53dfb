{{/* Base name of the chart's objects. */}}
{{- define "fairway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name when it already contains the chart name, else release-chart. */}}
{{- define "fairway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fairway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fairway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector of the scheduler pods. */}}
{{- define "fairway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fairway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{- define "fairway.serviceAccountName" -}}
{{- if .Values.scheduler.serviceAccount.create -}}
{{- default (include "fairway.fullname" .) .Values.scheduler.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.scheduler.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fairway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "fairway.webhookServiceName" -}}
{{- printf "%s-webhook" (include "fairway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fairway.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "fairway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "true" when the webhook certificate comes from cert-manager: enabled true, or "auto" and
     the cluster serves cert-manager.io/v1. */}}
{{- define "fairway.useCertManager" -}}
{{- $cm := .Values.webhook.certManager.enabled -}}
{{- if or (eq (toString $cm) "true") (and (eq (toString $cm) "auto") (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* What every entry of the MutatingWebhookConfiguration shares: the endpoint, its trust, its
     failure policy and the namespaces never sent. Arguments: root, service, caBundle, certManager. */}}
{{- define "fairway.webhookCommon" -}}
{{- $root := .root -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ $root.Values.webhook.failurePolicy }}
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
# The webhook only adds fields; another webhook's later change does not need a second pass.
reinvocationPolicy: Never
clientConfig:
  service:
    name: {{ .service }}
    namespace: {{ $root.Release.Namespace }}
    path: /mutate
    port: 443
  {{- if not .certManager }}
  caBundle: {{ .caBundle }}
  {{- end }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- $excluded := concat (list $root.Release.Namespace $root.Values.reservation.namespace) $root.Values.webhook.excludeNamespaces | uniq }}
        {{- toYaml $excluded | nindent 8 }}
{{- end }}
