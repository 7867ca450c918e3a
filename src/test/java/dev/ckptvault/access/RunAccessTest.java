package dev.ckptvault.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.UnauthenticatedException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Tokens against real storage (Azurite): two app instances ({@link TestApp}s) on one account,
 * each with its own caches and a clock the test moves, as two Functions instances would.
 */
class RunAccessTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static MutableClock clock;
    static TestApp one;
    static TestApp two;
    static final List<String> LOGGED = new java.util.concurrent.CopyOnWriteArrayList<>();
    static final Handler CAPTURE = new Handler() {
        @Override
        public void publish(LogRecord r) {
            LOGGED.add(r.getMessage() + (r.getThrown() == null ? "" : " " + r.getThrown()));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeAll
    static void setUp() {
        clock = new MutableClock(Instant.parse("2026-03-01T08:00:00Z"));
        one = AZURITE.app(Map.of(), clock);
        two = AZURITE.app(Map.of(), clock);
        Logger.getLogger("dev.ckptvault").addHandler(CAPTURE);
    }

    @AfterAll
    static void tearDown() {
        Logger.getLogger("dev.ckptvault").removeHandler(CAPTURE);
        one.close();
        two.close();
    }

    static Map<String, String> bearer(String token) {
        return Map.of("Authorization", "Bearer " + token);
    }

    static String token(TestApp app, String run, Scope scope, Duration ttl) {
        return app.access.issue(new RunId(run), scope, ttl).token();
    }

    @Test
    void aWriteTokenAllowsWritesAndReadsOfItsRunOnEveryInstance() {
        IssuedToken t = one.access.issue(new RunId("grant-run"), Json.parse("{\"scope\":\"write\",\"ttlMinutes\":90}", "b"));
        assertEquals("grant-run", t.runId());
        assertEquals("write", t.scope());
        assertEquals(clock.instant().plus(Duration.ofMinutes(90)), t.expiresOn());
        for (TestApp app : List.of(one, two)) {
            Grant g = app.access.authorize(bearer(t.token()), "grant-run", Scope.WRITE);
            assertEquals(new RunId("grant-run"), g.run());
            assertEquals(t.expiresOn(), g.expiresAt());
            assertEquals(Scope.WRITE, app.access.authorize(bearer(t.token()), "grant-run", Scope.READ).scope());
        }
        assertFalse(t.toString().contains(t.token()), "printing the answer does not print the token");
    }

    @Test
    void aReadTokenCannotWriteAndNoTokenReachesAnotherRun() {
        String read = token(one, "mine", Scope.READ, Duration.ofMinutes(10));
        String write = token(one, "mine", Scope.WRITE, Duration.ofMinutes(10));
        one.access.authorize(bearer(read), "mine", Scope.READ);
        ForbiddenException e = assertThrows(ForbiddenException.class,
                () -> one.access.authorize(bearer(read), "mine", Scope.WRITE));
        assertEquals(ErrorCodes.FORBIDDEN, e.code());
        for (String t : List.of(read, write)) {
            ForbiddenException other = assertThrows(ForbiddenException.class,
                    () -> one.access.authorize(bearer(t), "someone-else", Scope.READ));
            ForbiddenException never = assertThrows(ForbiddenException.class,
                    () -> one.access.authorize(bearer(t), "no-such-run-ever", Scope.READ));
            assertEquals(other.getMessage(), never.getMessage(), "the answer does not depend on the other run existing");
        }
        assertEquals(ErrorCodes.INVALID_RUN_ID, assertThrows(InvalidInputException.class,
                () -> one.access.authorize(bearer(write), "../mine", Scope.READ)).code());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "no header             |                          | false",
            "empty                 | ''                       | false",
            "basic scheme          | Basic dXNlcjpwYXNz       | true",
            "bearer without token  | Bearer                   | true",
            "garbage               | Bearer not-a-token       | true",
            "two tokens            | Bearer ckv1.a.b ckv1.c.d | true",
    })
    void missingOrUnusableCredentialsAre401WithABearerChallenge(String name, String header, boolean presented) {
        Map<String, String> headers = header == null ? Map.of() : Map.of("authorization", header);
        UnauthenticatedException e = assertThrows(UnauthenticatedException.class,
                () -> one.access.authorize(headers, "r", Scope.READ));
        assertEquals(ErrorCodes.UNAUTHENTICATED, e.code());
        assertTrue(e.challenge().startsWith("Bearer realm=\"ckptvault\""), e.challenge());
        assertEquals(presented, e.challenge().contains("invalid_token"), e.challenge());
    }

    @Test
    void aFunctionKeyOnATokenRouteIsTold401WhatToSendInstead() {
        UnauthenticatedException e = assertThrows(UnauthenticatedException.class,
                () -> one.access.authorize(Map.of("x-functions-key", "some-key"), "r", Scope.READ));
        assertTrue(e.getMessage().contains("not a key"), e.getMessage());
    }

    @Test
    void aTokenExpiresOnTheMillisecond() {
        MutableClock own = new MutableClock(Instant.parse("2026-03-01T08:00:00.250Z"));
        TestApp app = AZURITE.app(Map.of(), own);
        try {
            String t = token(app, "expiring", Scope.WRITE, Duration.ofMinutes(5));
            own.advance(Duration.ofMinutes(5).minusMillis(1));
            app.access.authorize(bearer(t), "expiring", Scope.WRITE);
            own.advance(Duration.ofMillis(1));
            UnauthenticatedException e = assertThrows(UnauthenticatedException.class,
                    () -> app.access.authorize(bearer(t), "expiring", Scope.WRITE));
            assertTrue(e.getMessage().contains("expired"), e.getMessage());
        } finally {
            app.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "no scope            | {\"ttlMinutes\":5}                          | scope",
            "unknown scope       | {\"scope\":\"admin\"}                       | scope",
            "scope not text      | {\"scope\":1}                               | scope",
            "zero minutes        | {\"scope\":\"read\",\"ttlMinutes\":0}       | ttlMinutes",
            "negative minutes    | {\"scope\":\"read\",\"ttlMinutes\":-1}      | ttlMinutes",
            "fraction            | {\"scope\":\"read\",\"ttlMinutes\":1.5}     | ttlMinutes",
            "text minutes        | {\"scope\":\"read\",\"ttlMinutes\":\"5\"}   | ttlMinutes",
            "beyond the maximum  | {\"scope\":\"read\",\"ttlMinutes\":10081}   | ttlMinutes",
            "huge                | {\"scope\":\"read\",\"ttlMinutes\":1e40}    | ttlMinutes",
            "unknown field       | {\"scope\":\"read\",\"run\":\"other\"}      | run",
            "not an object       | [\"read\"]                                  | body",
    })
    void badTokenRequestsAre400NamingTheField(String name, String body, String target) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> one.access.issue(new RunId("r"), Json.parse(body, "body")));
        assertEquals(target, e.target(), e.getMessage());
    }

    @Test
    void withoutTtlATokenLivesTheConfiguredMaximum() {
        TestApp shortLived = AZURITE.app(Map.of("CKPT_TOKEN_MAX_MINUTES", "60"), clock);
        try {
            IssuedToken t = shortLived.access.issue(new RunId("r"), Json.parse("{\"scope\":\"read\"}", "b"));
            assertEquals(clock.instant().plus(Duration.ofMinutes(60)), t.expiresOn());
            assertEquals("ttlMinutes", assertThrows(InvalidInputException.class, () -> shortLived.access.issue(
                    new RunId("r"), Json.parse("{\"scope\":\"read\",\"ttlMinutes\":61}", "b"))).target());
        } finally {
            shortLived.close();
        }
    }

    @Test
    void aTokenLongerThanTheMaximumIsRefusedEvenWithAValidSignature() {
        String weekLong = token(one, "long", Scope.READ, Duration.ofDays(7));
        TestApp stricter = AZURITE.app(Map.of("CKPT_TOKEN_MAX_MINUTES", "60"), clock);
        try {
            assertThrows(UnauthenticatedException.class, () -> stricter.access.authorize(bearer(weekLong), "long", Scope.READ),
                    "lowering CKPT_TOKEN_MAX_MINUTES shortens tokens already issued");
        } finally {
            stricter.close();
        }
    }

    @Test
    void revokingRefusesEarlierTokensAtOnceHereAndWithinThirtySecondsOnAnotherInstance() {
        String run = "revoked-run";
        String before = token(one, run, Scope.WRITE, Duration.ofHours(1));
        two.access.authorize(bearer(before), run, Scope.WRITE); // instance two caches "not revoked"
        Instant cachedAt = clock.instant();
        clock.advance(Duration.ofMillis(1));

        RunAccess.Revoked r = one.access.revoke(new RunId(run));
        assertEquals(run, r.runId());
        assertThrows(UnauthenticatedException.class, () -> one.access.authorize(bearer(before), run, Scope.WRITE),
                "refused at once on the instance that revoked");

        clock.advance(Duration.between(clock.instant(), cachedAt.plus(Revocations.CACHE_TTL).minusMillis(1)));
        two.access.authorize(bearer(before), run, Scope.WRITE); // inside the documented window: still cached
        clock.advance(Duration.ofMillis(1));
        UnauthenticatedException e = assertThrows(UnauthenticatedException.class,
                () -> two.access.authorize(bearer(before), run, Scope.WRITE));
        assertTrue(e.getMessage().contains("revoked"), e.getMessage());

        clock.advance(Duration.ofMillis(1));
        String after = token(two, run, Scope.WRITE, Duration.ofHours(1));
        one.access.authorize(bearer(after), run, Scope.WRITE);
        two.access.authorize(bearer(after), run, Scope.WRITE);
        String otherRun = token(one, "not-revoked", Scope.WRITE, Duration.ofHours(1));
        two.access.authorize(bearer(otherRun), "not-revoked", Scope.WRITE);
    }

    @Test
    void aLaterRevocationMovesTheTimeForwardAndAnUnreadableMarkerFailsClosed() {
        RunId run = new RunId("revoked-twice");
        Instant first = one.access.revoke(run).revokedBefore();
        clock.advance(Duration.ofSeconds(3));
        Instant second = two.access.revoke(run).revokedBefore();
        assertEquals(first.plusSeconds(3), second);

        one.keys.replaceIfMatch(Revocations.blobName(run), one.keys.read(Revocations.blobName(run)).orElseThrow().etag(),
                "{not json".getBytes(StandardCharsets.UTF_8), Map.of());
        clock.advance(Revocations.CACHE_TTL);
        String fresh = token(one, run.value(), Scope.READ, Duration.ofHours(1));
        assertThrows(UnauthenticatedException.class, () -> one.access.authorize(bearer(fresh), run.value(), Scope.READ),
                "a marker that cannot be read refuses every token of the run");
        clock.advance(Duration.ofMillis(1));
        one.access.revoke(run);
        clock.advance(Duration.ofMillis(1));
        String afterRepair = token(one, run.value(), Scope.READ, Duration.ofHours(1));
        one.access.authorize(bearer(afterRepair), run.value(), Scope.READ);
    }

    @Test
    void racingInstancesCreateOneKeyRingAndAllSignWithItsKey() throws Exception {
        MutableClock own = new MutableClock(Instant.parse("2026-04-01T00:00:00Z"));
        Map<String, String> fresh = Map.of("CKPT_KEYS_CONTAINER", "race-keys");
        List<TestApp> apps = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            TestApp app = AZURITE.app(fresh, own);
            app.storage.keysContainer().createIfNotExists();
            apps.add(app);
        }
        ExecutorService pool = Executors.newFixedThreadPool(apps.size());
        try {
            List<Future<String>> kids = new ArrayList<>();
            for (TestApp app : apps) {
                kids.add(pool.submit((Callable<String>) () -> app.signingKeys.signingKey().kid()));
            }
            Set<String> seen = new HashSet<>();
            for (Future<String> k : kids) {
                seen.add(k.get());
            }
            assertEquals(1, seen.size(), "every racing instance signs with the winner's key: " + seen);
            String t = token(apps.get(0), "race", Scope.READ, Duration.ofMinutes(5));
            for (TestApp app : apps) {
                app.access.authorize(bearer(t), "race", Scope.READ);
            }
        } finally {
            pool.shutdownNow();
            apps.forEach(TestApp::close);
        }
    }

    @Test
    void afterRotationNewTokensUseTheNewKeyAndOldTokensVerifyUntilTheyCouldHaveExpired() {
        MutableClock own = new MutableClock(Instant.parse("2026-05-01T00:00:00Z"));
        Map<String, String> settings = Map.of("CKPT_KEYS_CONTAINER", "rotate-keys", "CKPT_TOKEN_MAX_MINUTES", "120");
        TestApp a = AZURITE.app(settings, own);
        TestApp b = AZURITE.app(settings, own);
        TestApp c = AZURITE.app(settings, own);
        a.storage.keysContainer().createIfNotExists();
        try {
            String old = token(a, "rot", Scope.WRITE, Duration.ofMinutes(120));
            String oldKid = a.signingKeys.signingKey().kid();
            b.access.authorize(bearer(old), "rot", Scope.WRITE); // b and c have read the ring
            Instant cRead = own.instant();
            assertEquals(oldKid, c.signingKeys.signingKey().kid());

            RunAccess.Rotation rotation = a.access.rotate();
            assertNotEquals(oldKid, rotation.current());
            assertEquals(List.of(oldKid), rotation.verifying().stream().map(RunAccess.Rotation.Retired::kid).toList());
            Duration retire = Duration.ofMinutes(120).plus(SigningKeyStore.REFRESH).plus(SigningKeyStore.CLOCK_SKEW);
            assertEquals(own.instant().plus(retire), rotation.verifying().get(0).verifyUntil());
            assertFalse(Json.write(rotation).contains("secret"), "the answer names keys, never their secrets");

            String fresh = token(a, "rot", Scope.WRITE, Duration.ofMinutes(10));
            assertEquals(rotation.current(), TokenCodec.decode(fresh).claims().kid());
            // b has never seen the new kid: it reads the ring again (more than UNKNOWN_KID_GAP after its last read).
            own.advance(SigningKeyStore.UNKNOWN_KID_GAP);
            b.access.authorize(bearer(fresh), "rot", Scope.WRITE);
            b.access.authorize(bearer(old), "rot", Scope.WRITE);
            assertEquals(oldKid, c.signingKeys.signingKey().kid(), "c, told nothing, signs with the key it read");
            own.advance(Duration.between(own.instant(), cRead.plus(SigningKeyStore.REFRESH)));
            assertEquals(rotation.current(), c.signingKeys.signingKey().kid(),
                    "REFRESH after its last read every instance signs with the new key");

            String oldStillValid = old;
            own.advance(Duration.between(own.instant(), rotation.verifying().get(0).verifyUntil()).minusMillis(1));
            // the old token expired long ago (120 min); what the retired key still verifies is its signature
            UnauthenticatedException expired = assertThrows(UnauthenticatedException.class,
                    () -> a.access.authorize(bearer(oldStillValid), "rot", Scope.WRITE));
            assertTrue(expired.getMessage().contains("expired"), expired.getMessage());
            own.advance(Duration.ofMillis(1));
            UnauthenticatedException retired = assertThrows(UnauthenticatedException.class,
                    () -> a.access.authorize(bearer(oldStillValid), "rot", Scope.WRITE));
            assertTrue(retired.getMessage().contains("unknown or retired key"), retired.getMessage());

            a.access.rotate();
            assertFalse(new String(a.keys.download(SigningKeyStore.BLOB).orElseThrow(), StandardCharsets.UTF_8)
                    .contains(oldKid), "keys past verifyUntil are dropped at the next rotation");
        } finally {
            a.close();
            b.close();
            c.close();
        }
    }

    @Test
    void twoRotationsAtOnceBothTakeEffectAndNoKeyIsLost() throws Exception {
        MutableClock own = new MutableClock(Instant.parse("2026-05-02T00:00:00Z"));
        Map<String, String> settings = Map.of("CKPT_KEYS_CONTAINER", "rotate-race-keys");
        TestApp a = AZURITE.app(settings, own);
        TestApp b = AZURITE.app(settings, own);
        a.storage.keysContainer().createIfNotExists();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            String original = a.signingKeys.signingKey().kid();
            b.signingKeys.signingKey();
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            Future<RunAccess.Rotation> ra = pool.submit(() -> {
                go.await();
                return a.access.rotate();
            });
            Future<RunAccess.Rotation> rb = pool.submit(() -> {
                go.await();
                return b.access.rotate();
            });
            go.countDown();
            Set<String> made = Set.of(ra.get().current(), rb.get().current());
            assertEquals(2, made.size(), "each rotation made its own key");
            KeyRing ring = KeyRing.fromJson(a.keys.download(SigningKeyStore.BLOB).orElseThrow());
            Set<String> kids = new HashSet<>();
            ring.keys().forEach(k -> kids.add(k.kid()));
            assertEquals(Set.of(original, ra.get().current(), rb.get().current()), kids, "no key lost: " + ring);
            assertTrue(made.contains(ring.current()));
        } finally {
            pool.shutdownNow();
            a.close();
            b.close();
        }
    }

    @Test
    void aMissingKeysContainerIsNamed() {
        TestApp app = AZURITE.app(Map.of("CKPT_KEYS_CONTAINER", "never-created"), clock);
        app.storage.keysContainer().deleteIfExists();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> app.signingKeys.signingKey());
            assertTrue(e.getMessage().contains("CKPT_KEYS_CONTAINER"), e.getMessage());
        } finally {
            app.close();
        }
    }

    @Test
    void logsNameTokenIdsAndNeverATokenOrAKey() {
        LOGGED.clear();
        IssuedToken t = one.access.issue(new RunId("logged"), Scope.WRITE, Duration.ofMinutes(5));
        String id = TokenCodec.decode(t.token()).claims().id();
        assertThrows(ForbiddenException.class, () -> one.access.authorize(bearer(t.token()), "other", Scope.READ));
        one.access.revoke(new RunId("logged"));
        assertThrows(UnauthenticatedException.class, () -> one.access.authorize(bearer(t.token()), "logged", Scope.READ));
        one.access.rotate();
        String ring = new String(one.keys.download(SigningKeyStore.BLOB).orElseThrow(), StandardCharsets.UTF_8);
        List<String> secrets = new ArrayList<>();
        Json.parse(ring, "ring").get("keys").forEach(k -> secrets.add(k.get("secret").asText()));
        String all = String.join("\n", LOGGED);
        assertTrue(all.contains(id), "the token's id is logged: " + all);
        String[] parts = t.token().split("\\.");
        assertFalse(all.contains(parts[1]) || all.contains(parts[2]), "no part of the token is logged: " + all);
        for (String s : secrets) {
            assertFalse(all.contains(s), "no signing key is logged");
        }
    }

    @Test
    void theKeyRingIsStoredOnlyInTheKeysContainer() {
        one.signingKeys.signingKey();
        assertTrue(one.keys.download(SigningKeyStore.BLOB).isPresent());
        assertTrue(new ContainerStore(one.storage.container()).download(SigningKeyStore.BLOB).isEmpty());
        assertTrue(one.store.list("", false).stream().noneMatch(b -> b.name().contains("signing-keys")
                || b.name().startsWith("revocations/")), "nothing of it in the checkpoint container");
    }
}
