package dev.ckptvault.provisioning;

import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.core.http.HttpMethod;
import com.azure.core.http.HttpPipeline;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.management.AzureEnvironment;
import com.azure.core.management.exception.ManagementError;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.profile.AzureProfile;
import com.azure.core.util.Configuration;
import com.azure.resourcemanager.authorization.AuthorizationManager;
import com.azure.resourcemanager.authorization.fluent.AuthorizationManagementClient;
import com.azure.resourcemanager.resources.ResourceManager;
import com.azure.resourcemanager.resources.fluent.ResourceManagementClient;
import com.azure.resourcemanager.resources.fluentcore.utils.HttpPipelineProvider;
import com.azure.resourcemanager.storage.StorageManager;
import com.azure.resourcemanager.storage.fluent.StorageManagementClient;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One authenticated ARM pipeline and the SDK clients over it. Production talks to the public
 * cloud; tests point {@code resourceManagerEndpoint} at a local fake and hand in an HttpClient
 * that trusts its certificate (bearer tokens are only ever sent over HTTPS).
 */
public final class ArmConnection {
    private final HttpPipeline pipeline;
    private final String endpoint;
    private final StorageManagementClient storage;
    private final ResourceManagementClient resources;
    private final AuthorizationManagementClient authorization;

    private ArmConnection(HttpPipeline pipeline, AzureProfile profile) {
        this.pipeline = pipeline;
        String e = profile.getEnvironment().getResourceManagerEndpoint();
        this.endpoint = e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
        this.storage = StorageManager.authenticate(pipeline, profile).serviceClient();
        this.resources = ResourceManager.authenticate(pipeline, profile)
                .withSubscription(profile.getSubscriptionId()).serviceClient();
        this.authorization = AuthorizationManager.authenticate(pipeline, profile).roleServiceClient();
    }

    /** The public Azure cloud. */
    public static ArmConnection azure(TokenCredential credential, String subscriptionId) {
        return create(credential, subscriptionId, AzureEnvironment.AZURE, null);
    }

    /** Any ARM endpoint speaking the public cloud's API (a sovereign cloud, or a test fake). */
    public static ArmConnection at(TokenCredential credential, String subscriptionId, String resourceManagerEndpoint,
                                   HttpClient httpClient) {
        Map<String, String> endpoints = new HashMap<>(AzureEnvironment.AZURE.getEndpoints());
        endpoints.put("resourceManagerEndpointUrl", resourceManagerEndpoint);
        return create(credential, subscriptionId, new AzureEnvironment(endpoints), httpClient);
    }

    private static ArmConnection create(TokenCredential credential, String subscriptionId, AzureEnvironment env,
                                        HttpClient httpClient) {
        AzureProfile profile = new AzureProfile(null, subscriptionId, env);
        String[] scopes = {env.getManagementEndpoint() + "/.default"};
        HttpPipeline pipeline = HttpPipelineProvider.buildHttpPipeline(credential, profile, scopes, null,
                Configuration.getGlobalConfiguration(), null, List.of(), httpClient);
        return new ArmConnection(pipeline, profile);
    }

    public StorageManagementClient storage() {
        return storage;
    }

    public ResourceManagementClient resources() {
        return resources;
    }

    public AuthorizationManagementClient authorization() {
        return authorization;
    }

    /**
     * A GET the SDK has no typed client for here (azure-resourcemanager-eventgrid is not served),
     * through the same authenticated pipeline; ARM errors surface as {@link ManagementException}
     * like the SDK's own.
     */
    public JsonNode get(String pathAndQuery) {
        try (HttpResponse r = pipeline.send(new HttpRequest(HttpMethod.GET, endpoint + pathAndQuery)).block()) {
            String body = r.getBodyAsString().block();
            if (r.getStatusCode() >= 400) {
                ManagementError error = null;
                String message = "ARM answered " + r.getStatusCode() + " to GET " + pathAndQuery;
                if (body != null && !body.isBlank()) {
                    JsonNode e = Json.parse(body, "response").path("error");
                    error = new ManagementError(e.path("code").asText(null), e.path("message").asText(message));
                    message = error.getMessage();
                }
                throw new ManagementException(message, r, error);
            }
            return Json.parse(body, "response");
        }
    }
}
