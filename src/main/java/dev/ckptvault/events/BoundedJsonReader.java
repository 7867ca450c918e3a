package dev.ckptvault.events;

import com.azure.json.JsonProviders;
import com.azure.json.JsonReader;
import com.azure.json.JsonToken;
import java.io.IOException;

/**
 * A JsonReader that ends the read of a document once its reader asks for more tokens than the
 * document holds. The SDK's generated deserializers loop {@code while (nextToken() != END_OBJECT)};
 * when a value is not what they expect (azure-messaging-eventgrid 4.31.5: an empty array where
 * it reads a string) they fall out of step with the document and, at its end, receive
 * END_DOCUMENT forever. Every real token consumes at least one character, so a read of an
 * {@code n}-character document needs at most {@code n} tokens: past that, or past a second
 * END_DOCUMENT, the read can never end and is stopped, in the calling thread, at once.
 */
final class BoundedJsonReader extends JsonReader {
    /** Thrown when the document is exhausted but the reader keeps reading. */
    static final class ReadPastTheEnd extends IllegalStateException {
        ReadPastTheEnd(String message) {
            super(message);
        }
    }

    private final JsonReader delegate;
    private final long budget;
    private long tokens;
    private int ends;

    private BoundedJsonReader(JsonReader delegate, long budget) {
        this.delegate = delegate;
        this.budget = budget;
    }

    /** A reader of {@code json} that allows at most one token per character (plus the document's end). */
    static BoundedJsonReader of(String json) throws IOException {
        return new BoundedJsonReader(JsonProviders.createReader(json), json.length() + 2L);
    }

    @Override
    public JsonToken currentToken() {
        return delegate.currentToken();
    }

    @Override
    public JsonToken nextToken() throws IOException {
        JsonToken t = delegate.nextToken();
        if (++tokens > budget || (t == JsonToken.END_DOCUMENT && ++ends > 1)) {
            throw new ReadPastTheEnd("the parser read past the end of a " + (budget - 2) + "-character document ("
                    + tokens + " tokens asked for)");
        }
        return t;
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }

    @Override
    public byte[] getBinary() throws IOException {
        return delegate.getBinary();
    }

    @Override
    public boolean getBoolean() throws IOException {
        return delegate.getBoolean();
    }

    @Override
    public float getFloat() throws IOException {
        return delegate.getFloat();
    }

    @Override
    public double getDouble() throws IOException {
        return delegate.getDouble();
    }

    @Override
    public int getInt() throws IOException {
        return delegate.getInt();
    }

    @Override
    public long getLong() throws IOException {
        return delegate.getLong();
    }

    @Override
    public String getString() throws IOException {
        return delegate.getString();
    }

    @Override
    public String getFieldName() throws IOException {
        return delegate.getFieldName();
    }

    @Override
    public void skipChildren() throws IOException {
        delegate.skipChildren();
    }

    @Override
    public JsonReader bufferObject() throws IOException {
        // The buffered copy is read by the same deserializers: it gets a budget of its own.
        return new BoundedJsonReader(delegate.bufferObject(), budget);
    }

    @Override
    public boolean isResetSupported() {
        return false;
    }

    @Override
    public JsonReader reset() {
        throw new IllegalStateException("not resettable");
    }

    @Override
    public String getRawText() throws IOException {
        return delegate.getRawText();
    }
}
