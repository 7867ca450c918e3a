#!/bin/sh
# azd postdeploy hook: the function app now exists, so bootstrap can create the blob event
# subscription to its BlobEvents function. Runs with the operator's own credentials (the azd /
# az login session, through DefaultAzureCredential). Everything Bicep already made is found, not
# rewritten: bootstrap is idempotent. The values below are infra/main.bicep's outputs, which azd
# keeps in the environment, so bootstrap checks the same settings Bicep applied.
set -eu
cd "$(dirname "$0")/.."

: "${AZURE_SUBSCRIPTION_ID:?run through azd (azd up / azd deploy)}"
: "${AZURE_RESOURCE_GROUP:?}"
: "${CKPT_ACCOUNT_NAME:?}"
: "${API_PRINCIPAL_ID:?}"
: "${AZURE_FUNCTION_APP_ID:?}"

APP_DIR=target/azure-functions/ckptvault
if [ ! -d "$APP_DIR/lib" ]; then
  mvn -q -B -DskipTests package
fi

exec java -cp "$APP_DIR/*:$APP_DIR/lib/*" dev.ckptvault.provisioning.BootstrapMain \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --account "$CKPT_ACCOUNT_NAME" \
  --principal-id "$API_PRINCIPAL_ID" \
  --function-app-id "$AZURE_FUNCTION_APP_ID" \
  --soft-delete-days "${CKPT_SOFT_DELETE_DAYS:-7}" \
  --previous-version-days "${CKPT_PREVIOUS_VERSION_DAYS:-7}" \
  --keys-container "${CKPT_KEYS_CONTAINER:-ckptvault-keys}"
