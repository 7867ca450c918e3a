// The function app: Flex Consumption (FC1), Linux, Java 17, user-assigned identity for
// everything (host storage, checkpoint storage, Application Insights, the events topic).
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param identityPrincipalId string
param hostStorageName string
param deploymentContainer string
param applicationInsightsName string
param checkpointAccountName string
param checkpointSku string
param checkpointContainer string
@description('Private container for token-signing keys and revocation markers (see keysContainerName below).')
param keysContainer string
param deadLetterContainer string
param indexTable string
param softDeleteDays int
param sweepSchedule string
param eventsTopicEndpoint string
@description('Flex Consumption scale-out limit per app.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100
@description('Flex Consumption instance size.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource checkpointAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: checkpointAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Every CKPT_* setting the app reads (CkptConfig.SETTINGS), in the identity-based form; the
// SettingsParityTest keeps this block and the app's list identical. Not set here on purpose:
// CKPT_STORAGE (a connection string: Azure uses CKPT_STORAGE__* with the managed identity) and
// CKPT_EVENTS_TOPIC_KEY (the topic has local auth off; the app sends as EventGrid Data Sender).
var ckptAppSettings = {
  CKPT_STORAGE__blobServiceUri: checkpointAccount.properties.primaryEndpoints.blob
  CKPT_STORAGE__tableServiceUri: checkpointAccount.properties.primaryEndpoints.table
  CKPT_STORAGE__credential: 'managedidentity'
  CKPT_STORAGE__clientId: identityClientId
  CKPT_CONTAINER: checkpointContainer
  CKPT_INDEX_TABLE: indexTable
  CKPT_URL_DEFAULT_MINUTES: '30'
  CKPT_URL_MAX_MINUTES: '240'
  CKPT_MAX_FILES_PER_REQUEST: '10000'
  CKPT_MAX_BODY_BYTES: '8388608'
  CKPT_SWEEP_SCHEDULE: sweepSchedule
  CKPT_RETENTION_KEEP_LAST: '3'
  CKPT_RETENTION_KEEP_EVERY: '0'
  CKPT_RETENTION_MIN_AGE_MINUTES: '10'
  CKPT_RETENTION_INCOMPLETE_TTL_MINUTES: '1440'
  CKPT_RETENTION_ACTION: 'delete'
  CKPT_EVENTS_TOPIC_ENDPOINT: eventsTopicEndpoint
  CKPT_BOOTSTRAP_SUBSCRIPTION_ID: subscription().subscriptionId
  CKPT_BOOTSTRAP_RESOURCE_GROUP: resourceGroup().name
  CKPT_BOOTSTRAP_LOCATION: location
  CKPT_BOOTSTRAP_ACCOUNT_NAME: checkpointAccountName
  CKPT_BOOTSTRAP_SKU: checkpointSku
  CKPT_BOOTSTRAP_PRINCIPAL_ID: identityPrincipalId
  CKPT_BOOTSTRAP_FUNCTION_APP_ID: resourceId('Microsoft.Web/sites', name)
  CKPT_BOOTSTRAP_SOFT_DELETE_DAYS: string(softDeleteDays)
  CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS: 'false'
  CKPT_BOOTSTRAP_DEADLETTER_CONTAINER: deadLetterContainer
  CKPT_KEYS_CONTAINER: keysContainerName
  CKPT_TOKEN_MAX_MINUTES: '10080'
}

// The app's token-signing keys and revocation markers live in this container (never in an app
// setting); the app identity alone holds a role on it.
var keysContainerName = keysContainer

// Flex Consumption takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION must not be set.
var hostAppSettings = {
  AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: hostStorage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
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
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainer}'
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
        name: 'java'
        version: '17'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(hostAppSettings, ckptAppSettings)
  }
}

output name string = site.name
output id string = site.id
output uri string = 'https://${site.properties.defaultHostName}'
output keysContainer string = keysContainerName
