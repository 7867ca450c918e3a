package dev.ckptvault.testing;

import com.azure.core.http.HttpClient;
import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import dev.ckptvault.local.LocalTls;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * A throw-away self-signed certificate for 127.0.0.1, made with openssl at test time (no private
 * key is ever committed) by the local host's own {@link LocalTls}, and the clients tests need that
 * trust exactly that certificate.
 */
public final class SelfSignedTls {
    private final LocalTls tls;

    private SelfSignedTls(LocalTls tls) {
        this.tls = tls;
    }

    /** Writes cert.pem and key.pem for 127.0.0.1/localhost, valid for a day, into {@code dir}. */
    public static SelfSignedTls create(Path dir) throws IOException, InterruptedException {
        return new SelfSignedTls(LocalTls.create(dir, 1));
    }

    public Path certPem() {
        return tls.certPem();
    }

    public Path keyPem() {
        return tls.keyPem();
    }

    /** For a JDK HttpsServer in a test: serves this certificate with its key. */
    public SSLContext serverContext() {
        return tls.serverContext();
    }

    /** For the JDK HTTP client: trusts this certificate and nothing else. */
    public SSLContext sslContext() {
        return tls.clientContext();
    }

    /** A plain JDK HTTP client, as a trainer would use, that trusts this certificate. */
    public java.net.http.HttpClient jdkClient() {
        return java.net.http.HttpClient.newBuilder().sslContext(sslContext())
                .connectTimeout(java.time.Duration.ofSeconds(10)).build();
    }

    /** The SDK's Netty HTTP client, trusting this certificate (hostname still verified). */
    public HttpClient sdkHttpClient() {
        try {
            SslContext trusting = SslContextBuilder.forClient().trustManager(tls.certificate()).build();
            return new NettyAsyncHttpClientBuilder(reactor.netty.http.client.HttpClient.create()
                    .secure(spec -> spec.sslContext(trusting))).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a Netty SSL context for the test certificate", e);
        }
    }
}
