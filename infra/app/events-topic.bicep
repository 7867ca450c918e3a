// Custom Event Grid topic for outgoing CheckpointCommitted / CheckpointDeleted events. Local
// (key) auth is off: the app publishes with its identity as EventGrid Data Sender, so no topic
// key exists in any setting.
param name string
param location string
param tags object = {}
param appPrincipalId string

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'EventGridSchema'
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: true
  }
}

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = topic.properties.endpoint
output id string = topic.id
