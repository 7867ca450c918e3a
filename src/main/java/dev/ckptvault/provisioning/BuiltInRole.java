package dev.ckptvault.provisioning;

import java.util.Locale;

/** The Azure built-in roles bootstrap assigns, by their fixed role definition ids. */
public enum BuiltInRole {
    STORAGE_BLOB_DATA_CONTRIBUTOR("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
    STORAGE_BLOB_DELEGATOR("Storage Blob Delegator", "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"),
    STORAGE_TABLE_DATA_CONTRIBUTOR("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),
    EVENTGRID_DATA_SENDER("EventGrid Data Sender", "d5a91429-5739-47e2-a06b-3470a27159e7");

    private final String displayName;
    private final String id;

    BuiltInRole(String displayName, String id) {
        this.displayName = displayName;
        this.id = id;
    }

    public String displayName() {
        return displayName;
    }

    public String id() {
        return id;
    }

    public String definitionId(String subscriptionId) {
        return "/subscriptions/" + subscriptionId + "/providers/Microsoft.Authorization/roleDefinitions/" + id;
    }

    /** True for any spelling of this role's definition id (subscription-scoped or not, any case). */
    public boolean matches(String roleDefinitionId) {
        return roleDefinitionId != null && roleDefinitionId.toLowerCase(Locale.ROOT).endsWith("/roledefinitions/" + id);
    }
}
