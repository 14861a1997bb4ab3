// Reader for the auditor's managed identity on one management group (inherited by every
// subscription below it). Reader is control plane only (*/read): Resource Graph works, Key Vault
// data (secrets, keys, certificates) stays out of reach.
targetScope = 'managementGroup'

@description('Object id of the Function app\'s system-assigned managed identity.')
param principalId string

var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader (built-in; same id in every cloud)

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, readerRoleId)
  properties: {
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'kv-audit: read-only inventory of Key Vaults and role assignments (Resource Graph)'
  }
}

output roleAssignmentId string = reader.id
