package dev.ckptvault.local;

/**
 * The one user-assigned managed identity the local Azure mode gives the app, as infra/ gives the
 * function app exactly one (identity.type UserAssigned, no system-assigned identity). Its ids are
 * fixed and published, like Azurite's development account: they name an identity, they open
 * nothing by themselves.
 *
 * @param clientId    what the app names in CKPT_STORAGE__clientId (identity.outputs.clientId in Bicep)
 * @param principalId the object id: a token's {@code oid}, a delegation key's {@code skoid}
 * @param tenantId    the token's {@code tid} and issuer tenant
 * @param resourceId  the identity's ARM resource id ({@code xms_mirid}, the {@code mi_res_id} parameter)
 */
public record LocalIdentity(String clientId, String principalId, String tenantId, String resourceId) {
    public static final String SUBSCRIPTION_ID = "00000000-0000-4000-8000-00000000c4e1";
    public static final String RESOURCE_GROUP = "rg-ckptvault-local";

    /** The app's identity in Azure mode. */
    public static final LocalIdentity APP = new LocalIdentity(
            "5c0a7f3e-1d2b-4e6a-9c8d-0c4e1a7f3e11",
            "9b2e4d6f-3a1c-4b5e-8f7a-1c3e5a7b9d22",
            "00000000-0000-4000-8000-00000000c4e0",
            "/subscriptions/" + SUBSCRIPTION_ID + "/resourceGroups/" + RESOURCE_GROUP
                    + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ckpt-local");

    /** The issuer Entra writes into v1 tokens of this tenant; Azurite accepts this prefix. */
    public String issuer() {
        return "https://sts.windows.net/" + tenantId + "/";
    }
}
