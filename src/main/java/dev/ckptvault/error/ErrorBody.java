package dev.ckptvault.error;

/** The contract's error shape: {"error":{"code","message","target"?}}. */
public record ErrorBody(Detail error) {
    public record Detail(String code, String message, String target) {
    }

    public static ErrorBody of(String code, String message, String target) {
        return new ErrorBody(new Detail(code, message, target));
    }
}
