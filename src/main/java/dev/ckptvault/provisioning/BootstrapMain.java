package dev.ckptvault.provisioning;

import com.azure.identity.DefaultAzureCredentialBuilder;
import dev.ckptvault.config.BootstrapDefaults;
import dev.ckptvault.config.ConfigException;
import dev.ckptvault.config.Names;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.ErrorBody;
import dev.ckptvault.json.Json;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Bootstrap from an operator's shell with their own Azure credentials (az login, environment,
 * managed identity: DefaultAzureCredential), so the app's identity never needs rights to create
 * accounts, topics or role assignments. Prints the report as JSON; exit 0 on success, 1 when Azure
 * refused or failed, 2 for bad arguments.
 */
public final class BootstrapMain {
    /** Flag -> the setting it stands for; the environment may give any of these settings instead. */
    private static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put("--subscription", "CKPT_BOOTSTRAP_SUBSCRIPTION_ID");
        FLAGS.put("--resource-group", "CKPT_BOOTSTRAP_RESOURCE_GROUP");
        FLAGS.put("--location", "CKPT_BOOTSTRAP_LOCATION");
        FLAGS.put("--account", "CKPT_BOOTSTRAP_ACCOUNT_NAME");
        FLAGS.put("--sku", "CKPT_BOOTSTRAP_SKU");
        FLAGS.put("--principal-id", "CKPT_BOOTSTRAP_PRINCIPAL_ID");
        FLAGS.put("--function-app-id", "CKPT_BOOTSTRAP_FUNCTION_APP_ID");
        FLAGS.put("--soft-delete-days", "CKPT_BOOTSTRAP_SOFT_DELETE_DAYS");
        FLAGS.put("--dead-letter-container", "CKPT_BOOTSTRAP_DEADLETTER_CONTAINER");
        FLAGS.put("--container", "CKPT_CONTAINER");
        FLAGS.put("--index-table", "CKPT_INDEX_TABLE");
        FLAGS.put("--function-name", "FUNCTION_NAME");
    }

    private static final String USAGE = """
            usage: BootstrapMain --subscription ID --resource-group RG --account NAME [options]
              --location REGION            needed to create the resource group or the account
              --create-resource-group      create the resource group when missing
              --sku SKU                    Standard_LRS (default), Standard_ZRS, Standard_GRS, ...
              --principal-id OBJECT_ID     the app identity: gets Storage Blob Data Contributor on
                                           the checkpoint and keys containers, Storage Table Data
                                           Contributor on the index table, Storage Blob Delegator
                                           on the account
              --function-app-id ID         /subscriptions/../providers/Microsoft.Web/sites/NAME:
                                           creates the blob event subscription to it
              --function-name NAME         the blob event function (default BlobEvents)
              --soft-delete-days N         blob soft delete retention (default 7)
              --previous-version-days N    lifecycle rule: delete a checkpoint blob version N days
                                           after it was written, once it is no longer current
                                           (default: an existing rule keeps its days, a new one
                                           gets the soft delete days)
              --allow-shared-key-access    keep account keys usable (default: off)
              --container NAME             checkpoint container (default checkpoints)
              --index-table NAME           index table (default ckptindex)
              --keys-container NAME        the app's private keys container (default ckptvault-keys)
              --dead-letter-container NAME (default eventgrid-deadletter)
            Each flag may come from its setting instead (CKPT_BOOTSTRAP_SUBSCRIPTION_ID, ...);
            AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZURE_LOCATION (set by azd) are used last.
            """;

    private BootstrapMain() {
    }

    public static void main(String[] args) {
        Function<String, ArmConnection> connect = subscription ->
                ArmConnection.azure(new DefaultAzureCredentialBuilder().build(), subscription);
        System.exit(run(args, System.getenv(), connect, System.out, System.err));
    }

    /** The whole command; returns the exit code. */
    public static int run(String[] args, Map<String, String> env, Function<String, ArmConnection> connect,
                          PrintStream out, PrintStream err) {
        Map<String, String> settings = new HashMap<>();
        fallback(settings, env, "AZURE_SUBSCRIPTION_ID", "CKPT_BOOTSTRAP_SUBSCRIPTION_ID");
        fallback(settings, env, "AZURE_RESOURCE_GROUP", "CKPT_BOOTSTRAP_RESOURCE_GROUP");
        fallback(settings, env, "AZURE_LOCATION", "CKPT_BOOTSTRAP_LOCATION");
        for (String name : FLAGS.values()) {
            if (env.get(name) != null && !env.get(name).isBlank()) {
                settings.put(name, env.get(name));
            }
        }
        if (env.containsKey("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS")) {
            settings.put("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS", env.get("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS"));
        }
        boolean createResourceGroup = false;
        // Bootstrap-only inputs: no app setting stands for them.
        String keysContainer = null;
        String previousVersionDays = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--help", "-h" -> {
                    out.print(USAGE);
                    return 0;
                }
                case "--create-resource-group" -> createResourceGroup = true;
                case "--allow-shared-key-access" -> settings.put("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS", "true");
                case "--keys-container", "--previous-version-days" -> {
                    if (i + 1 >= args.length) {
                        return usage(err, a + " needs a value", a);
                    }
                    if (a.equals("--keys-container")) {
                        keysContainer = args[++i];
                    } else {
                        previousVersionDays = args[++i];
                    }
                }
                default -> {
                    String setting = FLAGS.get(a);
                    if (setting == null || i + 1 >= args.length) {
                        return usage(err, setting == null ? "unknown argument " + a : a + " needs a value", a);
                    }
                    settings.put(setting, args[++i]);
                }
            }
        }
        BootstrapPlan plan;
        try {
            BootstrapDefaults defaults = BootstrapDefaults.fromMap(settings);
            plan = BootstrapPlan.of(defaults, null, createResourceGroup,
                    Names.container("CKPT_CONTAINER", settings.getOrDefault("CKPT_CONTAINER", "checkpoints")),
                    Names.table("CKPT_INDEX_TABLE", settings.getOrDefault("CKPT_INDEX_TABLE", "ckptindex")),
                    settings.getOrDefault("FUNCTION_NAME", BootstrapPlan.BLOB_EVENTS_FUNCTION),
                    BootstrapPlan.Names.FLAGS);
            if (keysContainer != null) {
                plan = plan.withKeysContainer(Names.container("--keys-container", keysContainer));
            }
            if (previousVersionDays != null) {
                int days;
                try {
                    days = Integer.parseInt(previousVersionDays.trim());
                } catch (NumberFormatException e) {
                    days = 0;
                }
                if (days < 1) {
                    return usage(err, "--previous-version-days must be a whole number of days, at least 1, got '"
                            + previousVersionDays + "'", "--previous-version-days");
                }
                plan = plan.withPreviousVersionDays(days);
            }
        } catch (ConfigException e) {
            String flag = flagOf(e.setting());
            String message = flag.equals(e.setting()) ? e.getMessage().replaceFirst("^setting ", "")
                    : e.getMessage().replace("setting " + e.setting(), flag + " (" + e.setting() + ")");
            return usage(err, message, flag);
        } catch (ApiException e) {
            return usage(err, e.getMessage(), e.target());
        }
        try {
            BootstrapReport report = new ArmBootstrap(connect.apply(plan.subscriptionId())).run(plan);
            out.println(Json.write(report.toJson()));
            return 0;
        } catch (ApiException e) {
            err.println(Json.write(ErrorBody.of(e.code(), e.getMessage(), e.target())));
            return 1;
        }
    }

    private static void fallback(Map<String, String> settings, Map<String, String> env, String from, String to) {
        String v = env.get(from);
        if (v != null && !v.isBlank()) {
            settings.put(to, v);
        }
    }

    private static String flagOf(String setting) {
        if ("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS".equals(setting)) {
            return "--allow-shared-key-access";
        }
        return FLAGS.entrySet().stream().filter(e -> e.getValue().equals(setting)).map(Map.Entry::getKey)
                .findFirst().orElse(setting);
    }

    private static int usage(PrintStream err, String problem, String target) {
        err.println(Json.write(ErrorBody.of("InvalidArguments", problem, target)));
        err.print(USAGE);
        return 2;
    }
}
