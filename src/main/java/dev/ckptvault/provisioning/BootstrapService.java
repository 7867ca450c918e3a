package dev.ckptvault.provisioning;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.storage.StorageClients;
import java.util.function.Function;

/**
 * The admin route's bootstrap: local mode against the emulator, otherwise ARM with the app's own
 * identity and the CKPT_BOOTSTRAP_* settings. The ARM connection is built per call (bootstrap is
 * rare) so an app without those settings never signs in to ARM at all.
 */
public final class BootstrapService {
    private final CkptConfig config;
    private final StorageClients storage;
    private final Function<String, ArmConnection> connect;

    /** @param connect builds an ARM connection for a subscription id */
    public BootstrapService(CkptConfig config, StorageClients storage, Function<String, ArmConnection> connect) {
        this.config = config;
        this.storage = storage;
        this.connect = connect;
    }

    /** The app's identity: its managed identity in Azure (the storage setting's client id), else DefaultAzureCredential. */
    public static Function<String, ArmConnection> appIdentity(CkptConfig config) {
        return subscription -> ArmConnection.azure(StorageClients.appIdentity(config.storage()), subscription);
    }

    public BootstrapReport run() {
        if (config.storage().isEmulator()) {
            return new LocalBootstrap(storage, config).run();
        }
        BootstrapPlan plan = BootstrapPlan.fromConfig(config);
        return new ArmBootstrap(connect.apply(plan.subscriptionId())).run(plan);
    }
}
