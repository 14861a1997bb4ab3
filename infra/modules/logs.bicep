// Microsoft Sentinel / Log Analytics: custom tables, a data collection endpoint and rule for the
// Logs Ingestion API (audit_function/logs_sink.py), and, when Sentinel is on, an analytics rule.
// Columns match reports/sentinel_rows.py (tests/function/test_infra.py checks it).
targetScope = 'resourceGroup'

param location string
param namePrefix string
param token string
param workspaceName string
param dataCollectionRuleName string
@description('Days the kv-audit tables keep their rows (interactive retention).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 365
@description('Onboard Microsoft Sentinel on the workspace and deploy the analytics rule (Sentinel is billed separately).')
param enableSentinel bool = false
param tags object

var findingsColumns = [
  {
    name: 'TimeGenerated'
    type: 'datetime'
  }
  {
    name: 'RunId'
    type: 'string'
  }
  {
    name: 'Fingerprint'
    type: 'string'
  }
  {
    name: 'RuleId'
    type: 'string'
  }
  {
    name: 'Severity'
    type: 'string'
  }
  {
    name: 'Status'
    type: 'string'
  }
  {
    name: 'Suppressed'
    type: 'boolean'
  }
  {
    name: 'Title'
    type: 'string'
  }
  {
    name: 'Message'
    type: 'string'
  }
  {
    name: 'Subject'
    type: 'string'
  }
  {
    name: 'VaultId'
    type: 'string'
  }
  {
    name: 'VaultName'
    type: 'string'
  }
  {
    name: 'SubscriptionId'
    type: 'string'
  }
  {
    name: 'ResourceGroup'
    type: 'string'
  }
  {
    name: 'PrincipalId'
    type: 'string'
  }
  {
    name: 'PrincipalName'
    type: 'string'
  }
  {
    name: 'PrincipalType'
    type: 'string'
  }
  {
    name: 'AssignmentId'
    type: 'string'
  }
  {
    name: 'RoleDefinitionId'
    type: 'string'
  }
  {
    name: 'RoleName'
    type: 'string'
  }
  {
    name: 'Scope'
    type: 'string'
  }
  {
    name: 'Owner'
    type: 'string'
  }
  {
    name: 'FirstSeen'
    type: 'datetime'
  }
  {
    name: 'LastSeen'
    type: 'datetime'
  }
  {
    name: 'Remediation'
    type: 'string'
  }
  {
    name: 'Affected'
    type: 'dynamic'
  }
  {
    name: 'Evidence'
    type: 'dynamic'
  }
]

var vaultsColumns = [
  {
    name: 'TimeGenerated'
    type: 'datetime'
  }
  {
    name: 'RunId'
    type: 'string'
  }
  {
    name: 'VaultId'
    type: 'string'
  }
  {
    name: 'VaultName'
    type: 'string'
  }
  {
    name: 'SubscriptionId'
    type: 'string'
  }
  {
    name: 'SubscriptionName'
    type: 'string'
  }
  {
    name: 'ResourceGroup'
    type: 'string'
  }
  {
    name: 'Location'
    type: 'string'
  }
  {
    name: 'TenantId'
    type: 'string'
  }
  {
    name: 'PermissionModel'
    type: 'string'
  }
  {
    name: 'PublicNetworkAccess'
    type: 'string'
  }
  {
    name: 'NetworkExposure'
    type: 'string'
  }
  {
    name: 'ApprovedPrivateEndpoints'
    type: 'int'
  }
  {
    name: 'SoftDeleteEnabled'
    type: 'boolean'
  }
  {
    name: 'PurgeProtectionEnabled'
    type: 'boolean'
  }
  {
    name: 'AccessPolicyCount'
    type: 'int'
  }
  {
    name: 'FindingCount'
    type: 'int'
  }
  {
    name: 'FindingsBySeverity'
    type: 'dynamic'
  }
  {
    name: 'Tags'
    type: 'dynamic'
  }
]

var runsColumns = [
  {
    name: 'TimeGenerated'
    type: 'datetime'
  }
  {
    name: 'RunId'
    type: 'string'
  }
  {
    name: 'StartedAt'
    type: 'datetime'
  }
  {
    name: 'FinishedAt'
    type: 'datetime'
  }
  {
    name: 'Source'
    type: 'string'
  }
  {
    name: 'Complete'
    type: 'boolean'
  }
  {
    name: 'GapCount'
    type: 'int'
  }
  {
    name: 'Gaps'
    type: 'dynamic'
  }
  {
    name: 'NotEvaluatedCount'
    type: 'int'
  }
  {
    name: 'Coverage'
    type: 'dynamic'
  }
  {
    name: 'Vaults'
    type: 'int'
  }
  {
    name: 'Findings'
    type: 'int'
  }
  {
    name: 'High'
    type: 'int'
  }
  {
    name: 'Medium'
    type: 'int'
  }
  {
    name: 'Low'
    type: 'int'
  }
  {
    name: 'New'
    type: 'int'
  }
  {
    name: 'Persisting'
    type: 'int'
  }
  {
    name: 'Resolved'
    type: 'int'
  }
  {
    name: 'Unverified'
    type: 'int'
  }
  {
    name: 'Suppressed'
    type: 'int'
  }
  {
    name: 'ToolVersion'
    type: 'string'
  }
]

var tables = [
  {
    name: 'KvAuditFindings_CL'
    columns: findingsColumns
  }
  {
    name: 'KvAuditVaults_CL'
    columns: vaultsColumns
  }
  {
    name: 'KvAuditRuns_CL'
    columns: runsColumns
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource customTables 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = [for table in tables: {
  parent: workspace
  name: table.name
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    schema: {
      name: table.name
      columns: table.columns
    }
  }
}]

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = {
  name: 'dce-${namePrefix}-${token}'
  location: location
  tags: tags
  properties: {
    description: 'kv-audit Logs Ingestion API endpoint'
    networkAcls: {
      publicNetworkAccess: 'Enabled' // the Function has no VNet; every upload needs an Entra ID token and the rule's Monitoring Metrics Publisher role
    }
  }
}

resource rule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: location
  tags: tags
  properties: {
    description: 'kv-audit findings, vault inventory and run summaries'
    dataCollectionEndpointId: endpoint.id
    streamDeclarations: {
      'Custom-KvAuditFindings_CL': {
        columns: findingsColumns
      }
      'Custom-KvAuditVaults_CL': {
        columns: vaultsColumns
      }
      'Custom-KvAuditRuns_CL': {
        columns: runsColumns
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'kvAuditWorkspace'
          workspaceResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Custom-KvAuditFindings_CL'
        ]
        destinations: [
          'kvAuditWorkspace'
        ]
        transformKql: 'source'
        outputStream: 'Custom-KvAuditFindings_CL'
      }
      {
        streams: [
          'Custom-KvAuditVaults_CL'
        ]
        destinations: [
          'kvAuditWorkspace'
        ]
        transformKql: 'source'
        outputStream: 'Custom-KvAuditVaults_CL'
      }
      {
        streams: [
          'Custom-KvAuditRuns_CL'
        ]
        destinations: [
          'kvAuditWorkspace'
        ]
        transformKql: 'source'
        outputStream: 'Custom-KvAuditRuns_CL'
      }
    ]
  }
  dependsOn: [
    customTables
  ]
}

resource sentinel 'Microsoft.SecurityInsights/onboardingStates@2024-03-01' = if (enableSentinel) {
  scope: workspace
  name: 'default'
  properties: {}
}

// New high-severity findings of this week's run, one alert per finding (query: infra/queries/).
resource newHighFindings 'Microsoft.SecurityInsights/alertRules@2024-03-01' = if (enableSentinel) {
  scope: workspace
  name: guid(workspace.id, 'kv-audit-new-high-findings')
  kind: 'Scheduled'
  properties: {
    displayName: 'kv-audit: new high-severity Key Vault findings'
    description: 'A kv-audit run found a high-severity Key Vault finding that the previous run did not have (status new, not suppressed).'
    enabled: true
    severity: 'High'
    query: loadTextContent('../queries/sentinel-new-high-findings.kql')
    queryFrequency: 'PT1H'
    queryPeriod: 'P1D'
    triggerOperator: 'GreaterThan'
    triggerThreshold: 0
    suppressionEnabled: false
    suppressionDuration: 'PT5H'
    tactics: [
      'PrivilegeEscalation'
      'CredentialAccess'
    ]
    eventGroupingSettings: {
      aggregationKind: 'AlertPerResult'
    }
    alertDetailsOverride: {
      alertDisplayNameFormat: 'kv-audit: {{RuleId}} on {{VaultName}}'
      alertDescriptionFormat: '{{Message}}'
    }
    entityMappings: [
      {
        entityType: 'AzureResource'
        fieldMappings: [
          {
            identifier: 'ResourceId'
            columnName: 'ResourceId'
          }
        ]
      }
    ]
    incidentConfiguration: {
      createIncident: true
      groupingConfiguration: {
        enabled: false
        reopenClosedIncident: false
        lookbackDuration: 'P7D'
        matchingMethod: 'AllEntities'
      }
    }
  }
  dependsOn: [
    sentinel
    customTables
  ]
}

output logsEndpoint string = endpoint.properties.logsIngestion.endpoint
output ruleImmutableId string = rule.properties.immutableId
output ruleName string = rule.name
