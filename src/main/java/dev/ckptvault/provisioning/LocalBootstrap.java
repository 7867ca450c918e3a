package dev.ckptvault.provisioning;

import com.azure.data.tables.models.TableServiceException;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.storage.StorageClients;

/**
 * Bootstrap against the storage emulator: only what it serves (containers and the table) is
 * created, through the data plane; every Azure-only step is listed as skipped with its reason.
 */
public final class LocalBootstrap {
    private static final String NO_ARM = "the storage emulator has no Azure Resource Manager";

    private final StorageClients storage;
    private final CkptConfig config;

    public LocalBootstrap(StorageClients storage, CkptConfig config) {
        this.storage = storage;
        this.config = config;
    }

    public BootstrapReport run() {
        BootstrapReport report = new BootstrapReport("local");
        report.skipped("resourceGroup", NO_ARM);
        report.skipped("storageAccount", NO_ARM + "; the emulator's account " + storage.blobService().getAccountName()
                + " is used as it is");
        report.skipped("blobSoftDelete", "the storage emulator does not implement blob soft delete");
        report.skipped("blobVersioning", "blob versioning is an account setting made through Azure Resource Manager");
        container(config.container(), "container", report);
        container(config.keysContainer(), "keysContainer", report);
        container(config.bootstrap().deadLetterContainer(), "deadLetterContainer", report);
        table(report);
        report.skipped("lifecyclePolicy", "lifecycle management policies are made through Azure Resource Manager");
        report.skipped("appRoles", "role assignments are made through Azure Resource Manager; the storage emulator checks no roles");
        report.skipped("systemTopic", "the storage emulator emits no Event Grid events; the local host's watcher"
                + " produces them instead");
        report.skipped("topicDeadLetterRole", "no system topic locally");
        report.skipped("eventSubscription", "no system topic locally; blob events come from the local watcher");
        report.endpoint("blob", storage.blobService().getAccountUrl());
        report.endpoint("table", storage.tableService().getServiceEndpoint());
        return report;
    }

    private void container(String name, String step, BootstrapReport report) {
        var client = storage.blobService().getBlobContainerClient(name);
        if (client.createIfNotExists()) {
            report.created(step, client.getBlobContainerUrl());
        } else {
            report.found(step, client.getBlobContainerUrl());
        }
    }

    private void table(BootstrapReport report) {
        String name = config.indexTable();
        String where = storage.tableService().getServiceEndpoint() + "/" + name;
        try {
            storage.tableService().createTable(name);
            report.created("indexTable", where);
        } catch (TableServiceException e) {
            if (e.getResponse().getStatusCode() != 409) {
                throw e;
            }
            report.found("indexTable", where);
        }
    }
}
