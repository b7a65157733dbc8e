// App Service Authentication (Microsoft Entra ID) in front of the function app. The platform refuses unauthenticated
// API calls with an honest 401 before they reach the app, and sets X-MS-CLIENT-PRINCIPAL-ID from the validated token.

@description('Name of the function app to protect.')
param appName string

@description('Client id of the Entra app registration that signs users in.')
param clientId string

@description('Tenant that issues the tokens App Service Authentication accepts.')
param tenantId string = tenant().tenantId

// The browser page (function web_page, route app/{*path}, anonymous): static files, no data. Excluded so that a
// signed-out browser can load it and follow its "Sign in" link to /.auth/login/aad; everything it fetches from the
// API is still refused until the user signs in. The page itself, with and without the slash it redirects to, and
// every file under it ("/path/*" is the documented wildcard form).
var pagePaths = [
  '/api/app'
  '/api/app/'
  '/api/app/*'
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

// checkov reads every Microsoft.Web/sites/config as the 'web' config (or the site); this one is authsettingsV2,
// which has none of the properties the skipped checks look for.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: this resource is the App Service Authentication configuration itself
  // checkov:skip=CKV_AZURE_63: not a 'web' config (HTTP logging); the app logs to Application Insights
  // checkov:skip=CKV_AZURE_65: not a 'web' config (detailed error pages); the app logs to Application Insights
  // checkov:skip=CKV_AZURE_66: not a 'web' config (failed request tracing); the app logs to Application Insights
  // checkov:skip=CKV_AZURE_80: not a 'web' config; a Python app has no .NET Framework version
  // checkov:skip=CKV_AZURE_88: not a 'web' config; Flex Consumption has no Azure Files content share
  // checkov:skip=CKV_AZURE_222: not a 'web' config; public network access is set on the site (see api.bicep)
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      // API clients get a 401 they can act on, not a login page meant for browsers.
      unauthenticatedClientAction: 'Return401'
      excludedPaths: pagePaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            clientId
            'api://${clientId}'
          ]
        }
      }
    }
  }
}
