package dev.ckptvault.local;

/** Process settings the local tools need before any HTTP client exists. */
final class LocalDefaults {
    private LocalDefaults() {
    }

    /**
     * The JDK HTTP client keeps idle connections for 20 minutes; Azurite closes them after its
     * keep-alive. Reusing one it just closed fails a request, so idle connections go after 30 s.
     */
    static void httpClientKeepAlive() {
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "30");
        }
    }
}
