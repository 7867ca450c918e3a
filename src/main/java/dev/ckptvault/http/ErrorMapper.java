package dev.ckptvault.http;

import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.BodyTooLargeException;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.error.UnauthenticatedException;

/** The one place that turns exception types into HTTP status codes. */
public final class ErrorMapper {
    private ErrorMapper() {
    }

    public static int status(ApiException e) {
        if (e instanceof InvalidInputException) {
            return 400;
        }
        if (e instanceof UnauthenticatedException) {
            return 401;
        }
        if (e instanceof ForbiddenException) {
            return 403;
        }
        if (e instanceof NotFoundException) {
            return 404;
        }
        if (e instanceof ConflictException) {
            return 409;
        }
        if (e instanceof BodyTooLargeException) {
            return 413;
        }
        if (e instanceof StorageUnavailableException) {
            return 503;
        }
        return 500;
    }
}
