package dev.ckptvault.provisioning;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.json.Json;
import dev.ckptvault.storage.StorageClients;

/**
 * Bootstrap's ARM steps as the app's admin route runs them in Azure, in a process of its own so
 * the managed identity code sees the platform's IDENTITY_ENDPOINT in its real environment: the
 * settings from the environment, the app's identity ({@link StorageClients#appIdentity}, exactly
 * what {@link BootstrapService#appIdentity} hands ARM), the plan from the settings. Only the ARM
 * endpoint differs: the one given (a fake) instead of the public cloud's. Prints the report.
 *
 * <pre>  java ArmBootstrapAsApp ARM_ENDPOINT</pre>
 */
public final class ArmBootstrapAsApp {
    private ArmBootstrapAsApp() {
    }

    public static void main(String[] args) {
        CkptConfig config = CkptConfig.fromEnvironment();
        BootstrapPlan plan = BootstrapPlan.fromConfig(config);
        ArmConnection arm = ArmConnection.at(StorageClients.appIdentity(config.storage()), plan.subscriptionId(),
                args[0], null);
        System.out.println(Json.write(new ArmBootstrap(arm).run(plan).toJson()));
    }
}
