package dev.ckptvault.local;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The app settings infra/ gives the function app, read from the one place they are set (the
 * {@code var ckptAppSettings = {} block of infra/app/api.bicep, the same block SettingsParityTest
 * reads) and evaluated as Bicep would, with local equivalents for what only Azure knows.
 *
 * <p>Every value is followed through Bicep as written: api.bicep's parameters to the arguments
 * main.bicep passes its {@code api} module, main.bicep's parameters to their defaults, module
 * outputs into the module that declares them, {@code string()}, {@code int()}, {@code toLower()},
 * string interpolation and {@code resourceId()}. Only values Azure assigns at deployment are
 * replaced: a storage account's endpoints and name (the Azurite account), a user-assigned
 * identity's client and principal ids and resource id ({@link LocalIdentity}), an Event Grid
 * topic's endpoint (the local topic), {@code subscription()}, {@code resourceGroup()},
 * {@code tenant()}, {@code uniqueString()} ("local") and the deployment location main.bicep asks
 * for. Anything else it cannot evaluate fails, naming the setting: nothing is guessed.
 */
public final class InfraAppSettings {
    static final String API_BICEP = "app/api.bicep";
    static final String MAIN_BICEP = "main.bicep";
    private static final Pattern BLOCK = Pattern.compile("(?ms)^var ckptAppSettings = \\{\\n(.*?)^\\}");
    private static final Pattern ENTRY = Pattern.compile("^\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*:\\s*(.+?)\\s*$");

    /** What the local Azure mode has where Azure has a deployed resource. */
    public record LocalEquivalents(URI blobEndpoint, URI tableEndpoint, LocalIdentity identity, URI eventsTopicEndpoint,
                                   String accountName, String location) {
    }

    /** A setting infra/ does not give a value the local mode can reproduce. */
    public static final class InfraSettingsException extends RuntimeException {
        private final String setting;

        InfraSettingsException(String setting, String message) {
            super(setting == null ? message : setting + ": " + message);
            this.setting = setting;
        }

        public String setting() {
            return setting;
        }
    }

    private final Path infraDir;
    private final LocalEquivalents local;
    private final Map<Path, BicepFile> files = new HashMap<>();

    private InfraAppSettings(Path infraDir, LocalEquivalents local) {
        this.infraDir = infraDir;
        this.local = local;
    }

    /** The CKPT_* app settings of infra/, in the block's order, evaluated with the local equivalents. */
    public static Map<String, String> resolve(Path infraDir, LocalEquivalents local) {
        return new InfraAppSettings(infraDir, local).resolve();
    }

    private Map<String, String> resolve() {
        BicepFile api = file(infraDir.resolve(API_BICEP));
        Matcher block = BLOCK.matcher(api.text);
        if (!block.find()) {
            throw new InfraSettingsException(null, api.path + " has no 'var ckptAppSettings = {' block");
        }
        BicepFile main = file(infraDir.resolve(MAIN_BICEP));
        Module apiModule = main.modules.values().stream()
                .filter(m -> main.path.getParent().resolve(m.path).normalize().equals(api.path.normalize()))
                .findFirst().orElseThrow(() -> new InfraSettingsException(null,
                        main.path + " has no module for " + API_BICEP));
        Scope mainScope = new Scope(main, null, Map.of());
        Scope apiScope = new Scope(api, mainScope, apiModule.params);
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : block.group(1).split("\n")) {
            String code = stripComment(line).strip();
            if (code.isEmpty()) {
                continue;
            }
            Matcher m = ENTRY.matcher(code);
            if (!m.matches()) {
                throw new InfraSettingsException(null, "cannot read this line of ckptAppSettings: " + line.strip());
            }
            String setting = m.group(1);
            if (out.containsKey(setting)) {
                throw new InfraSettingsException(setting, "is set twice in ckptAppSettings");
            }
            try {
                out.put(setting, text(eval(parse(m.group(2)), apiScope)));
            } catch (InfraSettingsException e) {
                throw new InfraSettingsException(setting, e.getMessage() + " (in " + API_BICEP + ": " + m.group(2) + ")");
            }
        }
        return out;
    }

    // ---- the Bicep subset: files ---------------------------------------------------------------

    private record Param(String name, String defaultValue) {
    }

    private record Resource(String symbol, String type, String nameExpression) {
    }

    private record Module(String symbol, String path, Map<String, String> params) {
    }

    private static final class BicepFile {
        final Path path;
        final String text;
        final Map<String, Param> params = new HashMap<>();
        final Map<String, String> vars = new HashMap<>();
        final Map<String, Resource> resources = new HashMap<>();
        final Map<String, Module> modules = new LinkedHashMap<>();
        final Map<String, String> outputs = new HashMap<>();

        BicepFile(Path path, String text) {
            this.path = path;
            this.text = text;
        }
    }

    private static final Pattern PARAM = Pattern.compile("^param\\s+(\\w+)\\s+\\w+(?:\\s*=\\s*(.+))?$");
    private static final Pattern VAR = Pattern.compile("^var\\s+(\\w+)\\s*=\\s*(.+)$");
    private static final Pattern OUTPUT = Pattern.compile("^output\\s+(\\w+)\\s+\\w+\\s*=\\s*(.+)$");
    private static final Pattern RESOURCE = Pattern.compile("^(\\s*)resource\\s+(\\w+)\\s+'([^'@]+)@[^']*'.*=\\s*\\{\\s*$");
    private static final Pattern MODULE = Pattern.compile("^module\\s+(\\w+)\\s+'([^']+)'\\s*=\\s*\\{\\s*$");
    private static final Pattern NAME = Pattern.compile("^(\\s*)name:\\s*(.+)$");

    private BicepFile file(Path path) {
        return files.computeIfAbsent(path.normalize(), p -> {
            try {
                return read(p, Files.readString(p));
            } catch (IOException e) {
                throw new InfraSettingsException(null, "cannot read " + p + ": " + e.getMessage());
            }
        });
    }

    private static BicepFile read(Path path, String text) {
        BicepFile f = new BicepFile(path, text);
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = stripComment(lines[i]).stripTrailing();
            Matcher m;
            if ((m = PARAM.matcher(line)).matches()) {
                f.params.put(m.group(1), new Param(m.group(1), m.group(2)));
            } else if ((m = VAR.matcher(line)).matches()) {
                f.vars.put(m.group(1), m.group(2).strip());
            } else if ((m = OUTPUT.matcher(line)).matches()) {
                f.outputs.put(m.group(1), m.group(2).strip());
            } else if ((m = RESOURCE.matcher(line)).matches()) {
                String indent = m.group(1) + "  ";
                String name = null;
                for (int j = i + 1; j < lines.length && name == null; j++) {
                    Matcher n = NAME.matcher(stripComment(lines[j]).stripTrailing());
                    if (n.matches() && n.group(1).equals(indent)) {
                        name = n.group(2).strip();
                    } else if (stripComment(lines[j]).strip().equals("}") && lines[j].startsWith(m.group(1) + "}")) {
                        break;
                    }
                }
                f.resources.put(m.group(2), new Resource(m.group(2), m.group(3), name));
            } else if ((m = MODULE.matcher(line)).matches()) {
                f.modules.put(m.group(1), new Module(m.group(1), m.group(2), moduleParams(lines, i)));
            }
        }
        return f;
    }

    /** The {@code params: {...}} entries of the module declared at line {@code start}. */
    private static Map<String, String> moduleParams(String[] lines, int start) {
        Map<String, String> params = new LinkedHashMap<>();
        int depth = 0;
        boolean inParams = false;
        int paramsDepth = -1;
        for (int i = start; i < lines.length; i++) {
            String code = stripComment(lines[i]).strip();
            if (!inParams && depth == 1 && code.matches("params\\s*:\\s*\\{")) {
                inParams = true;
                paramsDepth = depth + 1;
            } else if (inParams && depth == paramsDepth) {
                Matcher e = ENTRY.matcher(code);
                if (e.matches() && !code.endsWith("{") && !code.endsWith("[")) {
                    params.put(e.group(1), e.group(2));
                }
            }
            depth += braces(code);
            if (inParams && depth < paramsDepth) {
                inParams = false;
            }
            if (depth == 0 && i > start) {
                break;
            }
        }
        return params;
    }

    private static int braces(String code) {
        int d = 0;
        boolean quoted = false;
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c == '\'' && (i == 0 || code.charAt(i - 1) != '\\')) {
                quoted = !quoted;
            } else if (!quoted && (c == '{' || c == '[')) {
                d++;
            } else if (!quoted && (c == '}' || c == ']')) {
                d--;
            }
        }
        return d;
    }

    /** The line without a {@code //} comment outside a string. */
    static String stripComment(String line) {
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\'' && (i == 0 || line.charAt(i - 1) != '\\')) {
                quoted = !quoted;
            } else if (!quoted && c == '/' && i + 1 < line.length() && line.charAt(i + 1) == '/') {
                return line.substring(0, i);
            }
        }
        return line;
    }

    // ---- the Bicep subset: expressions ---------------------------------------------------------

    private sealed interface Expr permits Str, Num, Ident, Member, Call {
    }

    /** A string; {@code parts} alternate literal text (String) and interpolated expressions (Expr). */
    private record Str(List<Object> parts) implements Expr {
    }

    private record Num(long value) implements Expr {
    }

    private record Ident(String name) implements Expr {
    }

    private record Member(Expr target, String name) implements Expr {
    }

    private record Call(String function, List<Expr> args) implements Expr {
    }

    private static Expr parse(String text) {
        Parser p = new Parser(text);
        Expr e = p.expression();
        p.skipSpace();
        if (p.pos != text.length()) {
            throw new InfraSettingsException(null, "cannot read the expression '" + text + "' at '"
                    + text.substring(p.pos) + "'");
        }
        return e;
    }

    private static final class Parser {
        final String s;
        int pos;

        Parser(String s) {
            this.s = s;
        }

        void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        Expr expression() {
            skipSpace();
            Expr e = primary();
            while (true) {
                skipSpace();
                if (pos < s.length() && s.charAt(pos) == '.') {
                    pos++;
                    e = new Member(e, identifier());
                } else {
                    return e;
                }
            }
        }

        Expr primary() {
            if (pos >= s.length()) {
                throw new InfraSettingsException(null, "the expression '" + s + "' ends too early");
            }
            char c = s.charAt(pos);
            if (c == '\'') {
                return string();
            }
            if (Character.isDigit(c)) {
                int start = pos;
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
                    pos++;
                }
                return new Num(Long.parseLong(s.substring(start, pos)));
            }
            String name = identifier();
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == '(') {
                pos++;
                List<Expr> args = new ArrayList<>();
                skipSpace();
                if (pos < s.length() && s.charAt(pos) == ')') {
                    pos++;
                    return new Call(name, args);
                }
                while (true) {
                    args.add(expression());
                    skipSpace();
                    if (pos < s.length() && s.charAt(pos) == ',') {
                        pos++;
                    } else if (pos < s.length() && s.charAt(pos) == ')') {
                        pos++;
                        return new Call(name, args);
                    } else {
                        throw new InfraSettingsException(null, "cannot read the arguments of " + name + " in '" + s + "'");
                    }
                }
            }
            return new Ident(name);
        }

        String identifier() {
            int start = pos;
            while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) {
                pos++;
            }
            if (start == pos) {
                throw new InfraSettingsException(null, "cannot read the expression '" + s + "' at '" + s.substring(pos) + "'");
            }
            return s.substring(start, pos);
        }

        Expr string() {
            pos++; // opening quote
            List<Object> parts = new ArrayList<>();
            StringBuilder lit = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw new InfraSettingsException(null, "unterminated string in '" + s + "'");
                }
                char c = s.charAt(pos);
                if (c == '\\' && pos + 1 < s.length()) {
                    char n = s.charAt(pos + 1);
                    lit.append(switch (n) {
                        case 'n' -> '\n';
                        case 't' -> '\t';
                        default -> n;
                    });
                    pos += 2;
                } else if (c == '\'') {
                    pos++;
                    parts.add(lit.toString());
                    return new Str(parts);
                } else if (c == '$' && pos + 1 < s.length() && s.charAt(pos + 1) == '{') {
                    parts.add(lit.toString());
                    lit.setLength(0);
                    pos += 2;
                    parts.add(expression());
                    skipSpace();
                    if (pos >= s.length() || s.charAt(pos) != '}') {
                        throw new InfraSettingsException(null, "unterminated ${...} in '" + s + "'");
                    }
                    pos++;
                } else {
                    lit.append(c);
                    pos++;
                }
            }
        }
    }

    /** A Bicep file being evaluated, with the argument expressions its caller passed (in the caller's scope). */
    private record Scope(BicepFile file, Scope caller, Map<String, String> arguments) {
    }

    private Object eval(Expr e, Scope scope) {
        if (e instanceof Str s) {
            StringBuilder b = new StringBuilder();
            for (Object part : s.parts()) {
                b.append(part instanceof Expr x ? text(eval(x, scope)) : part);
            }
            return b.toString();
        }
        if (e instanceof Num n) {
            return n.value();
        }
        if (e instanceof Ident id) {
            return identifier(id.name(), scope);
        }
        if (e instanceof Call c) {
            return call(c, scope);
        }
        Member m = (Member) e;
        List<String> path = new ArrayList<>();
        Expr base = m;
        while (base instanceof Member mm) {
            path.add(0, mm.name());
            base = mm.target();
        }
        if (base instanceof Call c) {
            return deploymentFunction(c, path);
        }
        if (base instanceof Ident id) {
            return member(id.name(), path, scope);
        }
        throw new InfraSettingsException(null, "cannot evaluate " + e + " locally");
    }

    private Object identifier(String name, Scope scope) {
        BicepFile f = scope.file();
        if (f.params.containsKey(name)) {
            if (scope.arguments().containsKey(name)) {
                return eval(parse(scope.arguments().get(name)), scope.caller());
            }
            Param p = f.params.get(name);
            if (p.defaultValue() != null) {
                return eval(parse(p.defaultValue()), scope);
            }
            if (scope.caller() == null && name.equals("location")) {
                // The deployment's region: azd asks for it; locally there is one place.
                return local.location();
            }
            throw new InfraSettingsException(null, "parameter '" + name + "' of " + f.path.getFileName()
                    + " gets no value (no argument, no default)");
        }
        if (f.vars.containsKey(name)) {
            String v = f.vars.get(name);
            if (v.equals("{") || v.equals("[")) {
                throw new InfraSettingsException(null, "variable '" + name + "' is an object, not a setting value");
            }
            return eval(parse(v), scope);
        }
        throw new InfraSettingsException(null, "'" + name + "' is neither a parameter nor a variable of "
                + f.path.getFileName());
    }

    private Object member(String symbol, List<String> path, Scope scope) {
        BicepFile f = scope.file();
        String dotted = symbol + "." + String.join(".", path);
        Module module = f.modules.get(symbol);
        if (module != null) {
            if (path.size() != 2 || !path.get(0).equals("outputs")) {
                throw new InfraSettingsException(null, "cannot evaluate " + dotted);
            }
            BicepFile target = file(f.path.getParent().resolve(module.path()));
            String output = target.outputs.get(path.get(1));
            if (output == null) {
                throw new InfraSettingsException(null, module.path() + " has no output " + path.get(1));
            }
            return eval(parse(output), new Scope(target, scope, module.params()));
        }
        Resource r = f.resources.get(symbol);
        if (r == null) {
            throw new InfraSettingsException(null, "'" + symbol + "' is not a resource or module of " + f.path.getFileName());
        }
        String property = String.join(".", path);
        switch (r.type()) {
            case "Microsoft.Storage/storageAccounts" -> {
                switch (property) {
                    case "properties.primaryEndpoints.blob" -> {
                        return local.blobEndpoint().toString();
                    }
                    case "properties.primaryEndpoints.table" -> {
                        return local.tableEndpoint().toString();
                    }
                    case "name" -> {
                        return local.accountName();
                    }
                    default -> {
                    }
                }
            }
            case "Microsoft.ManagedIdentity/userAssignedIdentities" -> {
                switch (property) {
                    case "properties.clientId" -> {
                        return local.identity().clientId();
                    }
                    case "properties.principalId" -> {
                        return local.identity().principalId();
                    }
                    case "id" -> {
                        return local.identity().resourceId();
                    }
                    default -> {
                    }
                }
            }
            case "Microsoft.EventGrid/topics" -> {
                if (property.equals("properties.endpoint")) {
                    return local.eventsTopicEndpoint().toString();
                }
            }
            default -> {
            }
        }
        if (property.equals("name") && r.nameExpression() != null) {
            return eval(parse(r.nameExpression()), scope);
        }
        throw new InfraSettingsException(null, dotted + " (" + r.type() + ") is known only in Azure and has no local"
                + " equivalent");
    }

    private Object call(Call c, Scope scope) {
        List<Expr> a = c.args();
        switch (c.function()) {
            case "string" -> {
                return text(eval(one(c), scope));
            }
            case "int" -> {
                Object v = eval(one(c), scope);
                try {
                    return v instanceof Long l ? l : Long.parseLong(text(v).strip());
                } catch (NumberFormatException e) {
                    throw new InfraSettingsException(null, "int('" + v + "') is not a number");
                }
            }
            case "toLower" -> {
                return text(eval(one(c), scope)).toLowerCase(Locale.ROOT);
            }
            case "uniqueString" -> {
                // A hash of the deployment's ids in Azure; one fixed token locally.
                return "local";
            }
            case "resourceId" -> {
                if (a.size() != 2) {
                    throw new InfraSettingsException(null, "resourceId with " + a.size() + " arguments is not supported");
                }
                return "/subscriptions/" + LocalIdentity.SUBSCRIPTION_ID + "/resourceGroups/" + LocalIdentity.RESOURCE_GROUP
                        + "/providers/" + text(eval(a.get(0), scope)) + "/" + text(eval(a.get(1), scope));
            }
            default -> throw new InfraSettingsException(null, c.function() + "() has no local equivalent");
        }
    }

    private static Expr one(Call c) {
        if (c.args().size() != 1) {
            throw new InfraSettingsException(null, c.function() + "() takes one argument here");
        }
        return c.args().get(0);
    }

    /** subscription(), resourceGroup() and tenant() of the deployment: the local ones. */
    private Object deploymentFunction(Call c, List<String> path) {
        String p = String.join(".", path);
        if (!c.args().isEmpty()) {
            throw new InfraSettingsException(null, c.function() + "(...) with arguments has no local equivalent");
        }
        switch (c.function() + "." + p) {
            case "subscription.subscriptionId" -> {
                return LocalIdentity.SUBSCRIPTION_ID;
            }
            case "subscription.id" -> {
                return "/subscriptions/" + LocalIdentity.SUBSCRIPTION_ID;
            }
            case "resourceGroup.name" -> {
                return LocalIdentity.RESOURCE_GROUP;
            }
            case "tenant.tenantId" -> {
                return local.identity().tenantId();
            }
            default -> throw new InfraSettingsException(null, c.function() + "()." + p + " has no local equivalent");
        }
    }

    private static String text(Object v) {
        return String.valueOf(v);
    }
}
