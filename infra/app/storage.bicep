// The one storage account: the Functions host's own storage, the Flex Consumption deployment package, and the
// app's images, queues and table. Every client signs in with Microsoft Entra ID: there are no keys to leak.

@description('Name of the storage account: 3-24 lower-case letters and digits, unique across Azure.')
@minLength(3)
@maxLength(24)
param name string
param location string = resourceGroup().location
param tags object = {}

@description('Redundancy of the account. LRS is the cheapest; choose ZRS or GZRS where the region offers them.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param skuName string = 'Standard_LRS'

@description('Blob containers to create (the app\'s and the deployment package\'s).')
param containers array

@description('Queues to create, poison queues included, so that nothing needs the right to create them at run time.')
param queues array

@description('Tables to create.')
param tables array

@description('Days a deleted or overwritten blob, or a deleted container, can still be restored.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 7

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: without VNet integration a Flex Consumption app reaches storage over the public endpoint; every request still needs an Entra token and a data role (shared keys are off)
  // checkov:skip=CKV_AZURE_59: same reason: public network access stays enabled for an app without VNet integration
  // checkov:skip=CKV_AZURE_206: redundancy is a cost choice left to the skuName parameter (LRS by default; ZRS, GRS and GZRS are allowed)
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    // The host, the bindings, the SDK clients and the deployment all use the app's managed identity.
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Soft delete: a mistaken DELETE /api/images/{id} (or a bad deployment) can be undone for a few days.
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in containers: {
  parent: blobService
  name: container
  properties: {
    publicAccess: 'None'
  }
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in queues: {
  parent: queueService
  name: queue
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource storageTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for table in tables: {
  parent: tableService
  name: table
}]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
