package dev.ckptvault.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.lifecycle.RetentionService;
import dev.ckptvault.retention.RetentionPlan;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A run's effective retention policy: what its record sets, over the app's defaults. */
class RunPoliciesTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp app;
    static RunPolicies policies;

    @BeforeAll
    static void setUp() {
        app = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "1", "CKPT_RETENTION_MIN_AGE_MINUTES", "0",
                "CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "90", "CKPT_URL_MAX_MINUTES", "60"), Clock.systemUTC());
        policies = app.policies;
    }

    static JsonNode json(String singleQuoted) {
        return Json.parse(singleQuoted.replace('\'', '"'), "test");
    }

    static void writeOutOfBand(RunId run, String content) {
        app.storage.container().getBlobClient(RunRecords.blobName(run)).upload(BinaryData.fromString(content), true);
    }

    @Test
    void aRunWithoutARecordHasTheDefaults() {
        RunPolicies.Lookup l = policies.lookup(RunId.of("no-record"));
        assertEquals(policies.defaults(), l.policy());
        assertNull(l.problem());
        assertEquals(1, l.policy().keepLast());
        assertEquals(90, l.policy().incompleteTtlMinutes());
    }

    @Test
    void theFieldsARunSetsApplyOverTheDefaults() {
        RunId run = RunId.of("partial");
        RunPolicies.RunPolicyView view = policies.put(run, json("{'retention':{'keepLast':4,'action':'cool'}}"));
        assertEquals(json("{'keepLast':4,'action':'cool'}"), view.retentionSet(), "only what was set is stored");
        RetentionPolicy effective = policies.effective(run);
        assertEquals(effective, view.retention());
        assertEquals(4, effective.keepLast());
        assertEquals(RetentionPolicy.Action.COOL, effective.action());
        assertEquals(90, effective.incompleteTtlMinutes(), "not set: the default");
        assertNull(policies.lookup(run).problem());

        policies.put(run, json("{'retention':{}}"));
        assertEquals(policies.defaults(), policies.effective(run), "a put replaces what was set");
    }

    @Test
    void aPutOfSomethingElseThanARunIsRefusedNamingTheField() {
        RunId run = RunId.of("refused");
        InvalidInputException unknown = assertThrows(InvalidInputException.class,
                () -> policies.put(run, json("{'retention':{},'owner':'x'}")));
        assertEquals("owner", unknown.target());
        InvalidInputException otherRun = assertThrows(InvalidInputException.class,
                () -> policies.put(run, json("{'runId':'another'}")));
        assertEquals("runId", otherRun.target());
        InvalidInputException badPolicy = assertThrows(InvalidInputException.class,
                () -> policies.put(run, json("{'retention':{'keepLast':0}}")));
        assertEquals(ErrorCodes.INVALID_POLICY, badPolicy.code());
        assertEquals("retention.keepLast", badPolicy.target());
        assertTrue(app.runs.read(run).isEmpty(), "nothing stored");
    }

    /** Records a person or an older tool could have left; none of them is a policy the app can apply. */
    @ParameterizedTest(name = "stored: [{0}]")
    @ValueSource(strings = {
            "{not json",
            "",
            "[]",
            "{\"runId\":\"x\",\"retention\":{\"keepLast\":0}}",
            "{\"runId\":\"x\",\"retention\":{\"keepLatest\":2}}",
            "{\"runId\":\"x\",\"retention\":5}",
            "{\"runId\":\"x\",\"retention\":{\"keepBest\":{\"metric\":\"loss\"}}}"})
    void aStoredRecordThatIsNotAValidPolicyGivesTheDefaultsWithAProblem(String content) {
        RunId run = RunId.of("bad-" + Integer.toHexString(content.hashCode()));
        writeOutOfBand(run, content);
        RunPolicies.Lookup l = policies.lookup(run);
        assertEquals(policies.defaults(), l.policy());
        assertTrue(l.problem() != null && l.problem().contains(RunRecords.blobName(run)),
                "the problem names the record: " + l.problem());
    }

    @Test
    void withAnUnreadableRecordRetentionKeepsEveryCheckpoint() {
        RunId run = RunId.of("unreadable-keeps-all");
        // Written before the first upload: every retention pass of this run sees it.
        writeOutOfBand(run, "{\"retention\": {\"keepLast\": 10");
        Trainer trainer = new Trainer(app);
        trainer.commitSmall(run.value(), 1, 1, Map.of());
        trainer.commitSmall(run.value(), 2, 1, Map.of());

        RetentionService.PlanView plan = app.retention.plan(run);

        assertEquals(List.of(), plan.remove(), "the defaults (keepLast 1) would remove step 1");
        assertEquals(List.of(2L, 1L), plan.keep().stream().map(RetentionPlan.Kept::step).toList());
        assertTrue(plan.policyProblem() != null, "the plan says why");
    }

    @Test
    void incompleteTtlFollowsAPolicyChange() {
        RunId run = RunId.of("ttl-change");
        assertEquals(Duration.ofMinutes(90), policies.incompleteTtl(run));
        policies.put(run, json("{'retention':{'incompleteTtlMinutes':65}}"));
        assertEquals(Duration.ofMinutes(65), policies.incompleteTtl(run));
        policies.put(run, json("{'retention':{'incompleteTtlMinutes':70}}"));
        assertEquals(Duration.ofMinutes(70), policies.incompleteTtl(run));
        policies.put(run, json("{'retention':{}}"));
        assertEquals(Duration.ofMinutes(90), policies.incompleteTtl(run), "back to the default");
    }
}
