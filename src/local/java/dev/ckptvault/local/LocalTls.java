package dev.ckptvault.local;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with openssl when the local host
 * starts in Azure mode (no private key is ever committed), and what serving and trusting it takes:
 * a server SSLContext for the HTTPS endpoints, and a trust store for JVMs that must trust it next
 * to the public CAs, as a process in Azure trusts the platform's certificates.
 */
public final class LocalTls {
    /** Not a secret: the trust store holds public certificates only, and Java wants a password. */
    public static final String TRUST_STORE_PASSWORD = "changeit";

    private final Path cert;
    private final Path key;
    private final X509Certificate certificate;

    private LocalTls(Path cert, Path key, X509Certificate certificate) {
        this.cert = cert;
        this.key = key;
        this.certificate = certificate;
    }

    /**
     * Writes a fresh cert.pem and key.pem (owner-only) into {@code dir}, replacing earlier ones, so
     * a client pointed at cert.pem trusts whatever the current start serves.
     *
     * @param days how long the certificate is valid
     */
    public static LocalTls create(Path dir, int days) throws IOException {
        Files.createDirectories(dir);
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Files.deleteIfExists(key);
        Files.createFile(key);
        ownerOnly(key);
        Process p;
        try {
            p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key.toString(), "-out", cert.toString(), "-days", Integer.toString(days),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("openssl is needed to make the local certificate and could not be run: "
                    + e.getMessage(), e);
        }
        String output = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("openssl could not make a certificate:\n" + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while making a certificate", e);
        }
        ownerOnly(key);
        return new LocalTls(cert, key, read(cert));
    }

    /** The certificate and key an earlier {@link #create} wrote. */
    public static LocalTls load(Path certPem, Path keyPem) throws IOException {
        if (!Files.isRegularFile(keyPem)) {
            throw new IOException("no key at " + keyPem);
        }
        return new LocalTls(certPem, keyPem, read(certPem));
    }

    private static void ownerOnly(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // Not a POSIX file system (Windows): the user's profile folder protects it instead.
        }
    }

    /** The certificate in a PEM file. */
    public static X509Certificate read(Path pem) throws IOException {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (GeneralSecurityException e) {
            throw new IOException("unreadable certificate " + pem, e);
        }
    }

    public Path certPem() {
        return cert;
    }

    public Path keyPem() {
        return key;
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /** Serves this certificate with its key. */
    public SSLContext serverContext() {
        try {
            String pem = Files.readString(key);
            String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            PrivateKey privateKey = KeyFactory.getInstance("RSA")
                    .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(base64)));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pass = TRUST_STORE_PASSWORD.toCharArray();
            ks.setKeyEntry("server", privateKey, pass, new Certificate[] {certificate});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pass);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(kmf.getKeyManagers(), null, null);
            return ssl;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot serve the local certificate " + cert, e);
        }
    }

    /** A client context that trusts this certificate and nothing else. */
    public SSLContext clientContext() {
        return clientContext(certificate);
    }

    /** A client context that trusts exactly the PEM certificate in {@code certPem}. */
    public static SSLContext clientContext(Path certPem) throws IOException {
        return clientContext(read(certPem));
    }

    private static SSLContext clientContext(X509Certificate trusted) {
        try {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("ckptvault-local", trusted);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust store for " + trusted.getSubjectX500Principal(), e);
        }
    }

    /**
     * Writes a PKCS12 trust store with the JDK's CA certificates plus this one, for a JVM started
     * with {@code -Djavax.net.ssl.trustStore=FILE}: every TLS client in it (the JDK's, Netty's for
     * the Azure SDK) then trusts the local endpoints without a line of code changed.
     */
    public Path writeTrustStore(Path file) throws IOException {
        return writeTrustStore(file, certificate);
    }

    /** As {@link #writeTrustStore(Path)}, for any certificate. */
    public static Path writeTrustStore(Path file, X509Certificate certificate) throws IOException {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            Path cacerts = Path.of(System.getProperty("java.home"), "lib", "security", "cacerts");
            if (Files.isRegularFile(cacerts)) {
                KeyStore jdk = KeyStore.getInstance(KeyStore.getDefaultType());
                try (InputStream in = Files.newInputStream(cacerts)) {
                    jdk.load(in, null);
                }
                for (String alias : java.util.Collections.list(jdk.aliases())) {
                    if (jdk.isCertificateEntry(alias)) {
                        store.setCertificateEntry(alias, jdk.getCertificate(alias));
                    }
                }
            }
            store.setCertificateEntry("ckptvault-local", certificate);
            try (OutputStream out = Files.newOutputStream(file)) {
                store.store(out, TRUST_STORE_PASSWORD.toCharArray());
            }
            return file;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot write the trust store " + file, e);
        }
    }
}
