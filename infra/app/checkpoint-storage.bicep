// The checkpoint account with the same secure defaults bootstrap enforces: StorageV2, HTTPS only,
// TLS 1.2, no public blob access, no shared keys, blob soft delete, blob versioning (with a
// lifecycle rule that removes old previous versions). Plus the private checkpoint container, the
// app's private keys container, the dead-letter container, the index table, the data roles, and
// the account's Event Grid system topic (one per account) whose identity may write dead letters.
// The event subscription to the BlobEvents function is made after deploy by the azd hook
// (scripts/azd-postdeploy.sh -> bootstrap): Event Grid validates that the function exists.
param name string
param location string
param tags object = {}
param sku string
@minValue(1)
@maxValue(365)
param softDeleteDays int
@description('Days after a blob version was written before the lifecycle policy deletes it once it is no longer the current version.')
@minValue(1)
param previousVersionDays int
param checkpointContainer string
param keysContainer string
param deadLetterContainer string
param indexTable string
param appPrincipalId string
@description('Optional: the operator, for debugging with their own identity.')
param operatorPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string = 'User'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: sku
  }
  properties: {
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    accessTier: 'Hot'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    // A commit record names each file's version and read URLs point at that version, so an
    // overwrite through a still-valid write URL cannot change what a reader of a COMMITTED
    // checkpoint downloads.
    isVersioningEnabled: true
  }
}

// Versioning keeps a previous version on every overwrite and every delete (retention deletes
// included). Version actions never touch the current version, and a committed, untampered file
// is the current version. The age counts from when the version was written, not from when it
// stopped being current (docs/infra.md, "Lifecycle policy").
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'ckptvault-previous-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              // A prefix starts with the container name; the slash keeps other containers whose
              // names merely begin the same way out.
              prefixMatch: [
                '${checkpointContainer}/'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: previousVersionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  // Versioning first: the rule's only action is on versions.
  dependsOn: [
    blobService
  ]
}

resource checkpoints 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: checkpointContainer
  properties: {
    publicAccess: 'None'
  }
}

// The app's token-signing keys and revocation markers: only the app identity gets a role here.
resource keyContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: keysContainer
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainer
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: indexTable
}

var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var blobDelegator = 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
var tableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

// Each data role at the narrowest scope it works at: a container, a table. A user delegation SAS
// never grants more than its signer holds on the blob, so write and read URLs reach only the
// checkpoint container.
resource appCheckpointsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(checkpoints.id, appPrincipalId, blobDataContributor)
  scope: checkpoints
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appKeysRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyContainer.id, appPrincipalId, blobDataContributor)
  scope: keyContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appIndexRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(table.id, appPrincipalId, tableDataContributor)
  scope: table
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Get User Delegation Key is an operation on the blob service: the role that allows it must be
// assigned at the account (or above). Storage Blob Delegator carries no data action, so this
// grants no read or write anywhere.
resource appDelegatorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, blobDelegator)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDelegator)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator gets what is needed to debug checkpoints and the index with their own identity,
// and nothing in the keys container.
resource operatorCheckpointsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(checkpoints.id, operatorPrincipalId, blobDataContributor)
  scope: checkpoints
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorIndexRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(table.id, operatorPrincipalId, tableDataContributor)
  scope: table
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorDelegatorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(account.id, operatorPrincipalId, blobDelegator)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDelegator)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${name}-events'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Dead letters are written with the topic's identity, into the dead-letter container only.
resource topicDeadLetterRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetters.id, systemTopic.id, blobDataContributor)
  scope: deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output systemTopicName string = systemTopic.name
output keysContainer string = keyContainer.name
