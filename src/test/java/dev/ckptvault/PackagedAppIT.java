package dev.ckptvault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.testing.AzuriteExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The package `mvn package` makes for Azure holds what Azure runs and nothing of the developer tools. */
class PackagedAppIT {
    static final Path APP = AzuriteExtension.projectDir().resolve("target/azure-functions/ckptvault");

    static List<String> appClasses() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> jars = Files.list(APP)) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).toList()) {
                try (JarFile j = new JarFile(jar.toFile())) {
                    j.stream().map(e -> e.getName()).filter(n -> n.startsWith("dev/ckptvault/")).forEach(out::add);
                }
            }
        }
        return out;
    }

    @Test
    void theDeployedJarHoldsNoDeveloperToolOrTestClass() throws IOException {
        List<String> classes = appClasses();
        assertTrue(classes.stream().anyMatch(n -> n.startsWith("dev/ckptvault/functions/")), "no function classes found");
        assertEquals(List.of(), classes.stream().filter(n -> n.startsWith("dev/ckptvault/local/")
                || n.startsWith("dev/ckptvault/testing/") || n.startsWith("dev/ckptvault/bench/")
                || n.endsWith("Test.class") || n.endsWith("IT.class")).toList());
    }

    @Test
    void theDeployedLibrariesHoldNoTestOrDeveloperDependency() throws IOException {
        try (Stream<Path> libs = Files.list(APP.resolve("lib"))) {
            List<String> names = libs.map(p -> p.getFileName().toString()).toList();
            assertTrue(names.stream().anyMatch(n -> n.startsWith("azure-storage-blob-")), names.toString());
            for (String unwanted : List.of("junit", "archunit", "cron-utils", "slf4j-nop", "azure-functions-java-spi",
                    "json-schema-validator", "jackson-dataformat-yaml")) {
                assertFalse(names.stream().anyMatch(n -> n.startsWith(unwanted)), unwanted + " is deployed: " + names);
            }
            // Test tools bring newer SLF4J and Jackson; the app ships the versions the Azure SDK is built with.
            assertTrue(names.contains("slf4j-api-1.7.36.jar"), names.toString());
            assertTrue(names.contains("jackson-databind-2.18.7.jar"), names.toString());
        }
    }
}
