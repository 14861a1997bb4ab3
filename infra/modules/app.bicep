// Function app (Flex Consumption, Python 3.11), its storage, monitoring and the role assignments
// it needs inside this resource group. Identity-based access everywhere: no account keys, no
// connection strings with secrets, no publishing passwords.
targetScope = 'resourceGroup'

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
param tags object

param reportReaderPrincipalIds array

@description('Put a CanNotDelete lock on the report storage account.')
param lockReportStorage bool = true

@description('Days the kv-audit Log Analytics tables keep their rows.')
param logsRetentionDays int = 365

@description('Onboard Microsoft Sentinel on the workspace and deploy the kv-audit analytics rule.')
param enableSentinel bool = false

var token = take(uniqueString(resourceGroup().id, namePrefix), 10)
var short = toLower(replace(namePrefix, '-', ''))
var hostStorageName = 'st${short}h${token}'
var reportStorageName = 'st${short}r${token}'
var deploymentContainerName = 'app-package'

// Built-in role definition ids (same in every cloud).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ---------------------------------------------------------------------------------------------
// Monitoring

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${namePrefix}-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 90
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${namePrefix}-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true // telemetry is accepted only with the Function's Entra token
  }
}

// Findings, vault inventory and run summaries in custom tables of the same workspace (Logs
// Ingestion API: data collection endpoint + rule), and the Sentinel analytics rule when enabled.
var dataCollectionRuleName = 'dcr-${namePrefix}-${token}'

module logs 'logs.bicep' = {
  name: 'kv-audit-logs'
  params: {
    location: location
    namePrefix: namePrefix
    token: token
    workspaceName: workspace.name
    dataCollectionRuleName: dataCollectionRuleName
    retentionInDays: logsRetentionDays
    enableSentinel: enableSentinel
    tags: tags
  }
}

resource dataCollectionRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' existing = {
  name: dataCollectionRuleName
}

// ---------------------------------------------------------------------------------------------
// Host storage: AzureWebJobsStorage (timer schedule monitor, singleton lock, host keys) and the
// Flex Consumption deployment package.

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostStorageName //checkov:skip=CKV_AZURE_43:computed name: 'st' + lower-case prefix (3-8 chars, hyphens removed) + 'h' + 10-char uniqueString = at most 21 lower-case letters and digits
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS' //checkov:skip=CKV_AZURE_206:host state only (timer status, locks, package); rebuilt by redeploying, no need for geo-replication
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled' //checkov:skip=CKV_AZURE_59:Flex Consumption without VNet integration reaches its host storage over the public endpoint; access is Entra ID only (shared keys disabled)
    networkAcls: {
      defaultAction: 'Allow' //checkov:skip=CKV_AZURE_35:see CKV_AZURE_59: no VNet here, so a deny-by-default firewall would lock the Function host out; identity-only access instead
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource hostBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: hostStorage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobs
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// ---------------------------------------------------------------------------------------------
// Report storage: its own account, so the host's broad role on its account never reaches the
// reports. Versioning + soft delete keep every overwritten or deleted report recoverable.

resource reportStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: reportStorageName //checkov:skip=CKV_AZURE_43:computed name: 'st' + lower-case prefix (3-8 chars, hyphens removed) + 'r' + 10-char uniqueString = at most 21 lower-case letters and digits
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS' //checkov:skip=CKV_AZURE_206:zone-redundant is enough for weekly reports; geo-replication is the customer's choice (change the SKU)
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled' //checkov:skip=CKV_AZURE_59:the Function (no VNet) and report readers use the public endpoint; every request needs an Entra ID token and a data role on the container
    networkAcls: {
      defaultAction: 'Allow' //checkov:skip=CKV_AZURE_35:see CKV_AZURE_59; restrict with private endpoints when the Function is VNet-integrated
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource reportBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: reportStorage
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: reportRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: reportRetentionDays
    }
  }
}

resource reportContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: reportBlobs
  name: reportContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource reportLock 'Microsoft.Authorization/locks@2020-05-01' = if (lockReportStorage) {
  name: 'kv-audit-reports-no-delete'
  scope: reportStorage
  properties: {
    level: 'CanNotDelete'
    notes: 'Holds the kv-audit compliance reports. Remove this lock deliberately before deleting the account.'
  }
}

// ---------------------------------------------------------------------------------------------
// Function app on Flex Consumption

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${namePrefix}-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
    zoneRedundant: false //checkov:skip=CKV_AZURE_225:one weekly batch run; after an outage the timer monitor (useMonitor) runs the missed occurrence as past due, so zone redundancy buys nothing here
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero and a timer runs as a singleton; there are no instances to keep for failover
    httpsOnly: true //checkov:skip=CKV_AZURE_213:no HTTP functions, so there is no health-check path to probe
    clientCertEnabled: false //checkov:skip=CKV_AZURE_17:no HTTP functions; the only inbound calls are the admin endpoint (function key) and deployments (Entra ID)
    publicNetworkAccess: 'Enabled' //checkov:skip=CKV_AZURE_222:deployment and the manual-run admin call need the public endpoint; the app serves no HTTP functions
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ftpsState: 'Disabled'
      appSettings: [
        // Host storage through the managed identity (no AzureWebJobsStorage connection string).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: hostStorage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD'
        }
        // kv-audit (audit_function/settings.py)
        {
          name: 'AUDIT_SCHEDULE'
          value: auditSchedule
        }
        {
          name: 'AUDIT_SOURCE'
          value: 'live'
        }
        {
          name: 'AUDIT_MANAGEMENT_GROUPS'
          value: auditedManagementGroupId
        }
        {
          name: 'AUDIT_FORMATS'
          value: reportFormats
        }
        {
          name: 'AUDIT_FAIL_ON'
          value: failOn
        }
        {
          name: 'AUDIT_FAIL_ON_INCOMPLETE'
          value: string(failOnIncomplete)
        }
        {
          name: 'AUDIT_TICKETS'
          value: 'false'
        }
        {
          name: 'AUDIT_REPORT_CONTAINER'
          value: reportContainerName
        }
        {
          name: 'AUDIT_STORAGE_ACCOUNT_URL'
          value: reportStorage.properties.primaryEndpoints.blob
        }
        {
          name: 'AUDIT_LOGS_ENDPOINT'
          value: logs.outputs.logsEndpoint
        }
        {
          name: 'AUDIT_LOGS_RULE_ID'
          value: logs.outputs.ruleImmutableId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: 40
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No publishing passwords: deployments authenticate with Entra ID.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// ---------------------------------------------------------------------------------------------
// Role assignments for the Function's identity, each on the narrowest scope that works.

// Host storage: the Functions host creates its own containers (azure-webjobs-hosts/-secrets) and
// takes blob leases there; Flex reads the deployment package. Storage Blob Data Owner on this
// account is the documented minimum for AzureWebJobsStorage; no queue or table role is needed
// for a timer trigger.
resource hostStorageOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionApp.id, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'kv-audit Functions host storage (AzureWebJobsStorage, deployment package)'
  }
}

// Reports: read/write/delete blobs in the report container only (delete is used to remove the
// blobs of a run whose upload failed half-way).
resource reportWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(reportContainer.id, functionApp.id, roles.storageBlobDataContributor)
  scope: reportContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'kv-audit report writer (this container only)'
  }
}

// People and tools that read the reports (shared keys are disabled, so reading needs a data role).
resource reportReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for reader in reportReaderPrincipalIds: {
  name: guid(reportContainer.id, reader, roles.storageBlobDataReader)
  scope: reportContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: reader
    description: 'kv-audit report reader (this container only)'
  }
}]

// Telemetry to Application Insights with local auth disabled.
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionApp.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'kv-audit telemetry (Entra ID ingestion)'
  }
}

// Logs Ingestion API: send rows to this data collection rule only.
resource logsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataCollectionRule.id, functionApp.id, roles.monitoringMetricsPublisher)
  scope: dataCollectionRule
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'kv-audit findings to Log Analytics (this data collection rule only)'
  }
  dependsOn: [
    logs
  ]
}

output principalId string = functionApp.identity.principalId
output logsEndpoint string = logs.outputs.logsEndpoint
output logsRuleId string = logs.outputs.ruleImmutableId
output functionAppName string = functionApp.name
output reportStorageAccountName string = reportStorage.name
output reportContainerUrl string = '${reportStorage.properties.primaryEndpoints.blob}${reportContainer.name}'
output applicationInsightsName string = appInsights.name
