package dev.ckptvault.http;

/** What a service call answers over HTTP: a status and a body to serialize as JSON. */
public record ApiResult(int status, Object body) {
    public static ApiResult ok(Object body) {
        return new ApiResult(200, body);
    }

    public static ApiResult of(int status, Object body) {
        return new ApiResult(status, body);
    }
}
