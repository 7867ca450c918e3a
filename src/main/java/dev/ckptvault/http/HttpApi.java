package dev.ckptvault.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.HttpStatusType;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.BodyTooLargeException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.error.UnauthenticatedException;
import dev.ckptvault.json.Json;
import dev.ckptvault.storage.StorageCalls;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import dev.ckptvault.error.ErrorBody;

/**
 * What every HTTP function shares: reading a bounded JSON body, running the service call, and
 * turning its result or error into a JSON response. Unexpected failures answer 500 with an
 * incident id; the stack trace goes to the log only.
 */
public final class HttpApi {
    private static final Logger LOG = Logger.getLogger(HttpApi.class.getName());

    private final long maxBodyBytes;

    public HttpApi(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    /** The request body as JSON; 413 when too large, 400 when missing or malformed. */
    public JsonNode body(HttpRequestMessage<Optional<String>> request) {
        String text = request.getBody() == null ? null : request.getBody().orElse(null);
        if (text == null || text.isBlank()) {
            throw new InvalidInputException(ErrorCodes.INVALID_JSON, "body is required (JSON)", "body");
        }
        // A char is 1-3 bytes in UTF-8: only count exactly when the cheap bound is not conclusive.
        if (text.length() > maxBodyBytes
                || (text.length() * 3L > maxBodyBytes && text.getBytes(StandardCharsets.UTF_8).length > maxBodyBytes)) {
            throw new BodyTooLargeException(maxBodyBytes);
        }
        return Json.parse(text, "body");
    }

    public HttpResponseMessage respond(HttpRequestMessage<?> request, Supplier<ApiResult> action) {
        try {
            ApiResult result = action.get();
            return json(request, result.status(), result.body());
        } catch (ApiException e) {
            return error(request, e);
        } catch (RuntimeException e) {
            if (StorageCalls.isTransient(e)) {
                return error(request, new StorageUnavailableException("storage unavailable", e));
            }
            String incident = UUID.randomUUID().toString();
            LOG.log(Level.SEVERE, "incident " + incident + " on " + request.getHttpMethod() + " "
                    + request.getUri().getPath(), e);
            return json(request, 500, ErrorBody.of("InternalError",
                    "internal error; incident " + incident + " is in the app's log", null));
        }
    }

    public HttpResponseMessage error(HttpRequestMessage<?> request, ApiException e) {
        int status = ErrorMapper.status(e);
        if (status >= 500) {
            LOG.log(Level.WARNING, e.getMessage(), e.getCause());
        }
        HttpResponseMessage.Builder b = request.createResponseBuilder(HttpStatusType.custom(status))
                .header("Content-Type", "application/json; charset=utf-8")
                .body(Json.write(ErrorBody.of(e.code(), e.getMessage(), e.target())));
        if (status == 503) {
            b.header("Retry-After", "5");
        }
        if (e instanceof UnauthenticatedException u) {
            b.header("WWW-Authenticate", u.challenge());
        }
        return b.build();
    }

    public static HttpResponseMessage json(HttpRequestMessage<?> request, int status, Object body) {
        return request.createResponseBuilder(HttpStatusType.custom(status))
                .header("Content-Type", "application/json; charset=utf-8")
                .header("Cache-Control", "no-store")
                .body(Json.write(body))
                .build();
    }
}
