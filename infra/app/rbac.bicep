// Role assignments: exactly the data access the code and the Functions host need, on the one storage account and
// the Application Insights component, and nothing at the subscription or resource group level.

param storageAccountName string
param applicationInsightsName string

@description('Principal id of the function app\'s managed identity.')
param identityPrincipalId string

@description('Principal id that gets data roles on the storage account, to debug locally against the cloud account. Empty: none.')
param developerPrincipalId string = ''

@description('Kind of developerPrincipalId: a signed-in user, or a service principal (CI).')
@allowed(['User', 'ServicePrincipal', 'Group'])
param developerPrincipalType string = 'User'

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
//
// Storage Blob Data Owner: the role the Functions docs require for the host's own storage (AzureWebJobsStorage:
// keys, locks, the Flex Consumption deployment package); it also covers what the code does with blobs: upload,
// read, read properties, delete, create the `images` container when it is missing, and ask for the user delegation
// key that signs download links (generateUserDelegationKey, which needs a role at the account's scope, as here).
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Blob Data Contributor: read, write and delete blobs, create containers and sign download links, which is
// all the code does.
// Enough for the developer, who debugs the app's data from a machine; Owner would add managing access (ACLs).
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
// Storage Queue Data Contributor: the queue triggers read, update (visibility) and delete messages, the output
// bindings send them, and the host moves failed messages to `image-tagging-poison`, creating it if missing.
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
// Storage Table Data Contributor: the Table output binding inserts records; the code reads, upserts, deletes and
// batches rows and creates the table when it is missing; the host writes its diagnostic events to tables.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Monitoring Metrics Publisher: Application Insights with local authentication disabled accepts telemetry only
// from identities holding it.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

var appStorageRoleIds = [
  storageBlobDataOwnerRoleId
  storageQueueDataContributorRoleId
  storageTableDataContributorRoleId
]

var developerStorageRoleIds = [
  storageBlobDataContributorRoleId
  storageQueueDataContributorRoleId
  storageTableDataContributorRoleId
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in appStorageRoleIds: {
  name: guid(storage.id, identityPrincipalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appMetricsPublisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource developerStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in developerStorageRoleIds: if (!empty(developerPrincipalId)) {
  name: guid(storage.id, developerPrincipalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: developerPrincipalId
    principalType: developerPrincipalType
  }
}]
