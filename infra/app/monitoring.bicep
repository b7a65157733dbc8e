// Log Analytics and a workspace-based Application Insights. Local (instrumentation key) authentication is off:
// telemetry is accepted only from an Entra identity with Monitoring Metrics Publisher, so a leaked connection
// string cannot be used to write into it.

param logAnalyticsName string
param applicationInsightsName string
param location string = resourceGroup().location
param tags object = {}

@description('Days Log Analytics keeps data (30 is the free retention).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
// Not a secret: with local authentication disabled it only says where to send telemetry.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsName string = logAnalytics.name
