// kv-audit: the weekly Key Vault audit as an Azure Function, deployed in one command:
//
//   az deployment mg create --management-group-id <MG> --location <region> \
//     --template-file infra/main.bicep --parameters hostSubscriptionId=<subscription id>
//
// Deployed at a management group (the audited one, or an ancestor such as the tenant root
// group) because the auditor's only Azure permission is Reader on the audited management group.
// The hosting resources go into a resource group of hostSubscriptionId (a subscription under
// that management group). See infra/README.md.
targetScope = 'managementGroup'

@description('Subscription that hosts the Function, its storage and monitoring.')
param hostSubscriptionId string

@description('Resource group for the hosting resources (created if missing).')
param resourceGroupName string = 'rg-kv-audit'

@description('Region of the hosting resources (must offer Flex Consumption).')
param location string = deployment().location

@description('Management group whose subscriptions are audited. The Function gets Reader there and nothing else outside its own resource group.')
param auditedManagementGroupId string = managementGroup().name

@description('Short lower-case prefix for resource names.')
@minLength(3)
@maxLength(8)
param namePrefix string = 'kvaudit'

@description('When the audit runs: six-field NCRONTAB, UTC (second minute hour day month day-of-week).')
param auditSchedule string = '0 0 6 * * Mon'

@description('Blob container that receives the reports.')
param reportContainerName string = 'kv-audit-reports'

@description('Report formats, comma-separated; json is required.')
param reportFormats string = 'json,xlsx'

@description('Fail the execution when a finding at or above this severity exists (empty: never).')
@allowed([
  ''
  'high'
  'medium'
  'low'
])
param failOn string = ''

@description('Fail the execution when the audit is incomplete (gaps in collection).')
param failOnIncomplete bool = true

@description('Days a deleted or overwritten report blob stays recoverable (soft delete + versions).')
@minValue(7)
@maxValue(365)
param reportRetentionDays int = 90

@description('Flex Consumption instance memory.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Object ids of users, groups or service principals that may read the reports (Storage Blob Data Reader on the report container).')
param reportReaderPrincipalIds array = []

@description('Days the kv-audit Log Analytics tables (KvAuditFindings_CL, KvAuditVaults_CL, KvAuditRuns_CL) keep their rows.')
@minValue(30)
@maxValue(730)
param logsRetentionDays int = 365

@description('Onboard Microsoft Sentinel on the kv-audit workspace and deploy the "new high findings" analytics rule (Sentinel is billed separately).')
param enableSentinel bool = false

@description('Tags for every hosting resource.')
param tags object = {
  workload: 'kv-audit'
}

var appName = 'func-${namePrefix}-${take(uniqueString(hostSubscriptionId, resourceGroupName, namePrefix), 8)}'

module hosting 'modules/hosting.bicep' = {
  name: 'kv-audit-hosting'
  scope: subscription(hostSubscriptionId)
  params: {
    resourceGroupName: resourceGroupName
    location: location
    namePrefix: namePrefix
    appName: appName
    auditedManagementGroupId: auditedManagementGroupId
    auditSchedule: auditSchedule
    reportContainerName: reportContainerName
    reportFormats: reportFormats
    failOn: failOn
    failOnIncomplete: failOnIncomplete
    reportRetentionDays: reportRetentionDays
    instanceMemoryMB: instanceMemoryMB
    reportReaderPrincipalIds: reportReaderPrincipalIds
    logsRetentionDays: logsRetentionDays
    enableSentinel: enableSentinel
    tags: tags
  }
}

// Reader on the audited management group: all the auditor needs for Resource Graph.
// Control plane only: it grants no data-plane access to any vault, and none is requested.
module auditReader 'modules/mg-reader.bicep' = {
  name: 'kv-audit-reader'
  scope: managementGroup(auditedManagementGroupId)
  params: {
    principalId: hosting.outputs.principalId
  }
}

output functionAppName string = hosting.outputs.functionAppName
output resourceGroupName string = resourceGroupName
output reportStorageAccountName string = hosting.outputs.reportStorageAccountName
output reportContainerUrl string = hosting.outputs.reportContainerUrl
output principalId string = hosting.outputs.principalId
output applicationInsightsName string = hosting.outputs.applicationInsightsName
output readerAssignmentId string = auditReader.outputs.roleAssignmentId
output logsEndpoint string = hosting.outputs.logsEndpoint
output logsRuleId string = hosting.outputs.logsRuleId
