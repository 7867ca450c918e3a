// ckptvault on Azure: `azd up` deploys this at subscription scope.
// Resource API versions are the documented ones named on each resource; there is no Bicep
// compiler in this project's CI, so `az bicep build --file infra/main.bicep` is the check to run
// before the first deployment.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. Flex Consumption is offered in a subset of regions.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person (or pipeline) running azd; gets data access to the checkpoint container and the index table for debugging. Empty: none.')
param principalId string = ''

@description('What principalId is: a person (User), a pipeline\'s service principal or managed identity (ServicePrincipal), or a group.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param checkpointSku string = 'Standard_LRS'

@description('Blob soft delete retention of the checkpoint account, in days (1-365).')
param softDeleteDays string = '7'

@description('Days after a checkpoint blob version was written before the lifecycle policy deletes it, once it is a previous version (overwritten or deleted). The current version is never affected.')
param previousVersionDays string = '7'

@description('NCRONTAB of the sweep timer (CKPT_SWEEP_SCHEDULE).')
param sweepSchedule string = '0 */5 * * * *'

param checkpointContainer string = 'checkpoints'
@description('Private container for the app\'s token-signing keys and revocation markers; only the app identity has a role on it.')
param keysContainer string = 'ckptvault-keys'
param deadLetterContainer string = 'eventgrid-deadletter'
param indexTable string = 'ckptindex'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-ckpt-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-ckpt-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-ckpt-${resourceToken}'
    applicationInsightsName: 'appi-ckpt-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module hostStorage 'app/host-storage.bicep' = {
  name: 'hostStorage'
  scope: rg
  params: {
    name: 'sthost${resourceToken}'
    location: location
    tags: tags
    deploymentContainer: 'app-package'
    appPrincipalId: identity.outputs.principalId
  }
}

module checkpoints 'app/checkpoint-storage.bicep' = {
  name: 'checkpoints'
  scope: rg
  params: {
    name: 'stckpt${resourceToken}'
    location: location
    tags: tags
    sku: checkpointSku
    softDeleteDays: int(softDeleteDays)
    previousVersionDays: int(previousVersionDays)
    checkpointContainer: checkpointContainer
    keysContainer: keysContainer
    deadLetterContainer: deadLetterContainer
    indexTable: indexTable
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module events 'app/events-topic.bicep' = {
  name: 'events'
  scope: rg
  params: {
    name: 'evgt-ckpt-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-ckpt-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    hostStorageName: hostStorage.outputs.name
    deploymentContainer: hostStorage.outputs.deploymentContainer
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    checkpointAccountName: checkpoints.outputs.name
    checkpointSku: checkpointSku
    checkpointContainer: checkpointContainer
    keysContainer: checkpoints.outputs.keysContainer
    deadLetterContainer: deadLetterContainer
    indexTable: indexTable
    softDeleteDays: int(softDeleteDays)
    sweepSchedule: sweepSchedule
    eventsTopicEndpoint: events.outputs.endpoint
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_ID string = api.outputs.id
output SERVICE_API_URI string = api.outputs.uri
output API_PRINCIPAL_ID string = identity.outputs.principalId
output CKPT_ACCOUNT_NAME string = checkpoints.outputs.name
output CKPT_BLOB_ENDPOINT string = checkpoints.outputs.blobEndpoint
output CKPT_EVENTS_TOPIC_ENDPOINT string = events.outputs.endpoint
output CKPT_SOFT_DELETE_DAYS string = softDeleteDays
output CKPT_PREVIOUS_VERSION_DAYS string = previousVersionDays
// The app setting of the same name comes with the app code that reads it (infra/app/api.bicep).
output CKPT_KEYS_CONTAINER string = checkpoints.outputs.keysContainer
