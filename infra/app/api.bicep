// The function app on a Flex Consumption (FC1, Linux) plan, signing in to storage and Application Insights with
// its user-assigned identity, and optionally behind App Service Authentication (Microsoft Entra ID).

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('The azd service this app hosts (azure.yaml), found by its azd-service-name tag.')
param serviceName string = 'api'

@description('Python version of the Flex Consumption runtime.')
@allowed(['3.10', '3.11', '3.12'])
param pythonVersion string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Client id of that identity: the settings name it so the host and the SDKs pick it, not another one.')
param identityClientId string

// The storage account's service endpoints (its primaryEndpoints): the host's own storage and the deployment package.
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
@description('Blob container holding the deployment package (Flex Consumption deploys from blob storage).')
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('Most instances the app may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

// Secure: it may carry the Vision key, and a module's plain parameters are kept in the deployment history.
@secure()
@description('The app\'s own settings (its storage connection and limits), merged with the host\'s below.')
param appSettings object = {}

@description('Client id of the Entra app registration that signs users in (App Service Authentication). Empty: off.')
param authClientId string = ''
@description('Tenant that issues the tokens App Service Authentication accepts.')
param authTenantId string = tenant().tenantId

// The host's own settings. Flex Consumption takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION must not be set.
var hostSettings = {
  // The host's own storage, identity-based: no connection string, no key. Service URIs rather than __accountName,
  // which only works with the global cloud's DNS suffix; the account's own endpoints are right in any cloud.
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // Application Insights has local authentication disabled: the host signs in with the app's identity.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy for Flex Consumption exists only in some regions and adds always-ready cost; left to the deployer
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux, the only OS Flex Consumption runs
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: callers are browsers and the CLI (function keys, Entra tokens); requiring client certificates would refuse them
  // checkov:skip=CKV_AZURE_222: a public HTTP API; function keys and optional App Service Authentication guard it
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; always-ready instances are a cost choice
  // checkov:skip=CKV_AZURE_213: the app has no health endpoint; health-check eviction is for long-lived instances, not a plan that scales to zero
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ftpsState: 'Disabled'
      appSettings: [for setting in items(union(appSettings, hostSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// With authentication on, the platform refuses unauthenticated requests itself and sets X-MS-CLIENT-PRINCIPAL-ID
// from the validated token, replacing any value a client sent: only then can the app trust that header.
// A module rather than a conditional resource: checkov reads an `if` resource as an empty shell (its checks then
// see no properties, and one crashes), so only an unconditional resource in a module is really checked.
module auth 'auth.bicep' = if (!empty(authClientId)) {
  name: 'auth'
  params: {
    appName: functionApp.name
    clientId: authClientId
    tenantId: authTenantId
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output uri string = 'https://${functionApp.properties.defaultHostName}'
