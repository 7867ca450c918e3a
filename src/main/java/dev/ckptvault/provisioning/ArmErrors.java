package dev.ckptvault.provisioning;

import com.azure.core.exception.ClientAuthenticationException;
import com.azure.core.management.exception.ManagementException;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.error.StorageUnavailableException;
import java.util.function.Supplier;

/**
 * Turns ARM failures into errors an operator can act on: which step failed, and for a refusal,
 * which role on which scope the identity running bootstrap needs.
 */
final class ArmErrors {
    private ArmErrors() {
    }

    /** Runs one ARM call of {@code step}; {@code role} names the role that allows it. */
    static <T> T during(String step, String role, Supplier<T> call) {
        try {
            return call.get();
        } catch (ManagementException e) {
            throw map(step, role, e);
        } catch (ClientAuthenticationException e) {
            throw new ForbiddenException("AuthenticationFailed", step + ": could not sign in to Azure ("
                    + e.getMessage() + "); run 'az login' or give the app a managed identity", step);
        }
    }

    static ApiException map(String step, String role, ManagementException e) {
        int status = e.getResponse() == null ? 0 : e.getResponse().getStatusCode();
        String code = e.getValue() == null || e.getValue().getCode() == null ? "Arm" + status : e.getValue().getCode();
        String said = e.getValue() == null || e.getValue().getMessage() == null ? e.getMessage() : e.getValue().getMessage();
        if (status == 401 || status == 403) {
            return new ForbiddenException("AuthorizationFailed", step + ": the identity running bootstrap needs "
                    + role + " (Azure said " + code + ": " + said + ")", step);
        }
        if (status == 429 || status >= 500 || status == 0) {
            return new StorageUnavailableException(step + ": Azure Resource Manager is unavailable (" + code
                    + "); run bootstrap again, it resumes where it stopped", e);
        }
        String hint = switch (code) {
            case "ResourceGroupNotFound" -> "; create it first or ask for it (--create-resource-group)";
            case "StorageAccountAlreadyTaken" -> "; storage account names are global: choose another name";
            case "StorageAccountAlreadyExists" -> "; the account exists in another resource group or subscription";
            default -> "";
        };
        return new ConflictException(code, step + ": Azure refused (" + status + " " + code + "): " + said + hint, step);
    }
}
