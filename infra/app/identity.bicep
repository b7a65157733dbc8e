// The function app's user-assigned managed identity. User-assigned rather than system-assigned so that its role
// assignments can be made before the app exists (the host needs them the moment it starts).

param name string
param location string = resourceGroup().location
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
