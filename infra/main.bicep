// Image tagging on Azure Functions, in one resource group: a storage account (blobs, queues, table), a Flex
// Consumption function app running as a user-assigned identity, and Log Analytics + Application Insights.
// Scoped to a resource group, so deploying needs rights on that group only, not on the subscription:
// `az deployment group create -g <group> -f infra/main.bicep -p environmentName=<name>`, or `azd up`
// (it asks for the group, or reads AZURE_RESOURCE_GROUP). See README, Deploy.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd env): tags every resource and makes the names unique.')
param environmentName string

@minLength(1)
@description('Region of every resource (default: the region of the resource group). It must offer the Flex Consumption plan: az functionapp list-flexconsumption-locations')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string = resourceGroup().location

// Every name can be overridden; empty means derived from the environment (abbreviations.json + resourceToken).
param functionAppName string = ''
param appServicePlanName string = ''
param storageAccountName string = ''
param identityName string = ''
param applicationInsightsName string = ''
param logAnalyticsName string = ''

@description('Most instances the function app may scale out to (the queue worker scales with the backlog).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance, in MB. The worker peaks under 768 MB at the default pixel limit (README, Reliability), so 512 is too small for it.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Largest accepted upload, in bytes (TAGGING_MAX_UPLOAD_BYTES; the code\'s default is 20 MB).')
@minValue(1)
param maxUploadBytes int = 20971520

@description('Largest accepted image, in pixels (TAGGING_MAX_PIXELS; the code\'s default). Memory grows with it.')
@minValue(1)
param maxPixels int = 100000000

@description('Azure AI Vision endpoint: set it to add its tags. The app signs in with its identity, which then needs the Cognitive Services User role on that resource.')
param visionEndpoint string = ''

@secure()
@description('Azure AI Vision key, only if the resource does not accept the app\'s identity. Prefer the identity.')
param visionKey string = ''

@description('Seconds after its last analysis before an owner may have an image analysed again (TAGGING_RETRY_INTERVAL_SECONDS; the code\'s default).')
param retryIntervalSeconds int = 30

@description('Content tags (dog, bird, cup...) from the classifier bundled with the app (TAGGING_CONTENT_TAGS): about 12 ms of CPU and 90 MB of memory per instance.')
param contentTags bool = true

@description('Country and place tags of geotagged photos from the bundled GeoNames table (TAGGING_PLACE_TAGS).')
param placeTags bool = true

@description('Client id of an Entra app registration: turns App Service Authentication on (unauthenticated requests get 401). Empty: off.')
param authClientId string = ''

@description('Trust the X-MS-CLIENT-PRINCIPAL-ID header without App Service Authentication: only for a back end that signs its users in itself and alone holds the function key. Off: without sign-in, every API call answers 401.')
param trustIdentityHeader bool = false

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID); used only with grantDeveloperAccess.')
param principalId string = ''

@description('Kind of principalId: a signed-in user, or a service principal when a pipeline deploys.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Give principalId Blob, Queue and Table Data Contributor on the storage account, to debug the app\'s data from a machine. Off by default.')
param grantDeveloperAccess bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

// The Python version of the deployment: the one README.md states (a contract test holds them together).
var pythonVersion = '3.11'

// Containers, queues and tables the code names (tagging/config.py), listed once in storage.json.
var storageNames = loadJsonContent('storage.json')

// What the host accepts above maxUploadBytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, below): 1 MiB.
var requestBodyHeadroomBytes = 1048576

var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}api-${resourceToken}'
// Flex Consumption deploys from a blob container; container names are at most 63 lower-case characters.
var deploymentContainerName = 'app-package-${take(toLower(appName), 32)}-${take(resourceToken, 7)}'

module identity 'app/identity.bicep' = {
  name: 'identity'
  params: {
    name: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    containers: concat(storageNames.containers, [deploymentContainerName])
    queues: storageNames.queues
    tables: storageNames.tables
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
    developerPrincipalId: grantDeveloperAccess ? principalId : ''
    developerPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  params: {
    name: appName
    planName: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    pythonVersion: pythonVersion
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    authClientId: authClientId
    appSettings: {
      // The app's one named storage connection (tagging/config.py CONNECTION), used by every binding and SDK
      // client, identity-based: one service URI per service the app uses, and the identity to sign in with.
      ImageStorage__blobServiceUri: storage.outputs.blobEndpoint
      ImageStorage__queueServiceUri: storage.outputs.queueEndpoint
      ImageStorage__tableServiceUri: storage.outputs.tableEndpoint
      ImageStorage__credential: 'managedidentity'
      ImageStorage__clientId: identity.outputs.clientId
      TAGGING_MAX_UPLOAD_BYTES: string(maxUploadBytes)
      // The host refuses a larger body before buffering it (by default it buffers up to 100 MB), with a bare 500
      // (azure-functions-host issue 10519). The headroom lets a body just over the limit reach the app, whose 413
      // says what the limit is.
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: string(maxUploadBytes + requestBodyHeadroomBytes)
      TAGGING_MAX_PIXELS: string(maxPixels)
      TAGGING_RETRY_INTERVAL_SECONDS: string(retryIntervalSeconds)
      TAGGING_CONTENT_TAGS: string(contentTags)
      TAGGING_PLACE_TAGS: string(placeTags)
      // Sync functions share the worker's one thread pool. The queue functions hold at most 2 x (batchSize +
      // newBatchThreshold) = 24 threads (host.json), so HTTP keeps 8 wherever they share an instance.
      PYTHON_THREADPOOL_THREAD_COUNT: '32'
      // Without sign-in the caller header is whatever a caller sends: the app accepts no one unless told to trust it.
      TAGGING_TRUST_IDENTITY_HEADER: string(trustIdentityHeader)
      AZURE_VISION_ENDPOINT: visionEndpoint
      AZURE_VISION_KEY: visionKey
      AZURE_VISION_CLIENT_ID: identity.outputs.clientId
    }
  }
  // The host reads its storage the moment it starts: grant the roles first.
  dependsOn: [
    rbac
  ]
}

// azd reads these into the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_HOST_NAME string = api.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
