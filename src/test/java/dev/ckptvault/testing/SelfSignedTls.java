package dev.ckptvault.testing;

import com.azure.core.http.HttpClient;
import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throw-away self-signed certificate for 127.0.0.1, made with openssl at test time (no private
 * key is ever committed), and clients that trust exactly that certificate.
 */
public final class SelfSignedTls {
    private final Path cert;
    private final Path key;
    private final X509Certificate certificate;

    private SelfSignedTls(Path cert, Path key, X509Certificate certificate) {
        this.cert = cert;
        this.key = key;
        this.certificate = certificate;
    }

    /** Writes cert.pem and key.pem for 127.0.0.1/localhost, valid for a day, into {@code dir}. */
    public static SelfSignedTls create(Path dir) throws IOException, InterruptedException {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("openssl could not make a test certificate:\n" + output);
        }
        try (InputStream in = Files.newInputStream(cert)) {
            X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            return new SelfSignedTls(cert, key, c);
        } catch (GeneralSecurityException e) {
            throw new IOException("openssl wrote an unreadable certificate", e);
        }
    }

    public Path certPem() {
        return cert;
    }

    public Path keyPem() {
        return key;
    }

    /** For a JDK HttpsServer in a test: serves this certificate with its key. */
    public SSLContext serverContext() {
        try {
            String pem = Files.readString(key);
            String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            java.security.PrivateKey privateKey = java.security.KeyFactory.getInstance("RSA")
                    .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(
                            java.util.Base64.getDecoder().decode(base64)));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pass = "test".toCharArray();
            ks.setKeyEntry("server", privateKey, pass, new java.security.cert.Certificate[] {certificate});
            javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(
                    javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pass);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(kmf.getKeyManagers(), null, null);
            return ssl;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot serve the test certificate", e);
        }
    }

    /** For the JDK HTTP client: trusts this certificate and nothing else. */
    public SSLContext sslContext() {
        try {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("azurite", certificate);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust store for the test certificate", e);
        }
    }

    /** A plain JDK HTTP client, as a trainer would use, that trusts this certificate. */
    public java.net.http.HttpClient jdkClient() {
        return java.net.http.HttpClient.newBuilder().sslContext(sslContext())
                .connectTimeout(java.time.Duration.ofSeconds(10)).build();
    }

    /** The SDK's Netty HTTP client, trusting this certificate (hostname still verified). */
    public HttpClient sdkHttpClient() {
        try {
            SslContext trusting = SslContextBuilder.forClient().trustManager(certificate).build();
            return new NettyAsyncHttpClientBuilder(reactor.netty.http.client.HttpClient.create()
                    .secure(spec -> spec.sslContext(trusting))).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build a Netty SSL context for the test certificate", e);
        }
    }
}
