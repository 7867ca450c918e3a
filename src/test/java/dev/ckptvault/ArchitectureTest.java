package dev.ckptvault;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the deployed app (docs/design.md, "Code layout"), checked on its compiled
 * classes: a pure checkpoint core at the bottom, adapters to Azure above it, services above them,
 * thin functions on top, one composition root, and no package cycles anywhere.
 */
class ArchitectureTest {
    static final String ROOT = "dev.ckptvault";
    static final String[] CORE = {"..checkpoint..", "..retention..", "..layout..", "..error..", "..json..", "..config.."};
    static final String[] ADAPTERS = {"..storage..", "..index..", "..events.."};
    static final String[] SERVICES = {"..commit..", "..upload..", "..query..", "..lifecycle..", "..run..",
            "..health..", "..provisioning..", "..access.."};

    static JavaClasses app;

    @BeforeAll
    static void importTheDeployedClasses() {
        // Only what the app ships: main classes, no tests and no developer tools (src/local).
        app = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("/test-classes/"))
                .importPackages(ROOT);
        assertTrue(app.size() > 80, "the app's classes were not found: " + app.size());
    }

    @Test
    void noPackageDependsOnItselfThroughAnother() {
        slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(app);
    }

    @Test
    void layersAreReachedOnlyFromAbove() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("Wiring").definedBy("..wiring..")
                .layer("Functions").definedBy("..functions..")
                .layer("Http").definedBy("..http..")
                .layer("Services").definedBy(SERVICES)
                .layer("Adapters").definedBy(ADAPTERS)
                .layer("Core").definedBy(CORE)
                .whereLayer("Wiring").mayNotBeAccessedByAnyLayer()
                .whereLayer("Functions").mayOnlyBeAccessedByLayers("Wiring")
                .whereLayer("Http").mayOnlyBeAccessedByLayers("Functions", "Wiring")
                .whereLayer("Services").mayOnlyBeAccessedByLayers("Functions", "Wiring")
                // Http classifies unexpected storage failures (503, not 500) with the storage adapter's rule.
                .whereLayer("Adapters").mayOnlyBeAccessedByLayers("Services", "Http", "Wiring")
                .check(app);
    }

    @Test
    void theCoreUsesNoAzureSdkAndNoFunctionsLibrary() {
        noClasses().that().resideInAnyPackage(CORE)
                .should().dependOnClassesThat().resideInAnyPackage("com.azure..", "com.microsoft.azure..")
                .check(app);
    }

    @Test
    void functionsReachStorageOnlyThroughServices() {
        noClasses().that().resideInAPackage("..functions..")
                .should().dependOnClassesThat().resideInAnyPackage("com.azure..")
                .check(app);
    }

    @Test
    void onlyTheStorageAdapterTouchesBlobsAndTablesOnlyTheIndex() {
        noClasses().that().resideOutsideOfPackages("..storage..", "..provisioning..", "..wiring..")
                .should().dependOnClassesThat().resideInAnyPackage("com.azure.storage.blob..")
                .check(app);
        noClasses().that().resideOutsideOfPackages("..index..", "..storage..", "..provisioning..")
                .should().dependOnClassesThat().resideInAnyPackage("com.azure.data.tables..")
                .check(app);
    }

    @Test
    void nothingDependsOnTheDeveloperTools() {
        noClasses().should().dependOnClassesThat().resideInAPackage(ROOT + ".local..").check(app);
    }
}
