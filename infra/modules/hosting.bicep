// The hosting resource group and everything in it.
targetScope = 'subscription'

param resourceGroupName string
param location string
param namePrefix string
param appName string
param auditedManagementGroupId string
param auditSchedule string
param reportContainerName string
param reportFormats string
param failOn string
param failOnIncomplete bool
param reportRetentionDays int
param instanceMemoryMB int
param reportReaderPrincipalIds array
param logsRetentionDays int
param enableSentinel bool
param tags object

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module app 'app.bicep' = {
  name: 'kv-audit-app'
  scope: rg
  params: {
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

output principalId string = app.outputs.principalId
output functionAppName string = app.outputs.functionAppName
output reportStorageAccountName string = app.outputs.reportStorageAccountName
output reportContainerUrl string = app.outputs.reportContainerUrl
output applicationInsightsName string = app.outputs.applicationInsightsName
output logsEndpoint string = app.outputs.logsEndpoint
output logsRuleId string = app.outputs.logsRuleId
