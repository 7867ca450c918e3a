package dev.ckptvault.error;

import static java.util.Map.entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.thirdparty.org.objectweb.asm.ClassReader;
import com.tngtech.archunit.thirdparty.org.objectweb.asm.ClassVisitor;
import com.tngtech.archunit.thirdparty.org.objectweb.asm.MethodVisitor;
import com.tngtech.archunit.thirdparty.org.objectweb.asm.Opcodes;
import dev.ckptvault.http.ErrorMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every error code of the contract reaches the caller with the status the design gives it, and no
 * {@link ApiException} type falls through {@link ErrorMapper} to a 500.
 */
class ErrorCodesTest {
    /** The status each code answers with (DESIGN.md "Error codes"; codes the design leaves open: as decided here). */
    static final Map<String, Integer> DESIGN_STATUS = Map.ofEntries(
            entry("InvalidRunId", 400),
            entry("InvalidStep", 400),
            entry("InvalidPath", 400),
            entry("DuplicatePath", 400),
            entry("TooManyFiles", 400),
            entry("BodyTooLarge", 413),
            entry("InvalidJson", 400),
            entry("InvalidRequest", 400),
            entry("InvalidManifest", 400),
            entry("ManifestConflict", 409),
            entry("CheckpointCommitted", 409),
            entry("CheckpointNotWritable", 409),
            entry("NotFound", 404),
            entry("NoCommittedCheckpoint", 404),
            entry("OnlyCommittedCheckpoint", 409),
            entry("InvalidPolicy", 400),
            entry("CheckpointNotCommitted", 409),
            entry("CheckpointPinned", 409),
            entry("StorageUnavailable", 503),
            entry("Unauthenticated", 401),
            entry("Forbidden", 403));

    static final Set<Integer> API_STATUSES = Set.of(400, 401, 403, 404, 409, 413, 503);

    static Map<String, String> codes;
    static JavaClasses mainClasses;
    static List<Class<? extends ApiException>> subclasses;

    @BeforeAll
    static void readTheCodesAndTheAppsClasses() throws IllegalAccessException {
        codes = new TreeMap<>();
        for (Field f : ErrorCodes.class.getDeclaredFields()) {
            int m = f.getModifiers();
            if (Modifier.isPublic(m) && Modifier.isStatic(m) && Modifier.isFinal(m) && f.getType() == String.class) {
                codes.put(f.getName(), (String) f.get(null));
            }
        }
        mainClasses = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("/test-classes/"))
                .importPackages("dev.ckptvault");
        subclasses = new ArrayList<>();
        for (JavaClass c : mainClasses) {
            if (c.isAssignableTo(ApiException.class) && !c.isEquivalentTo(ApiException.class)) {
                subclasses.add(c.reflect().asSubclass(ApiException.class));
            }
        }
        assertTrue(codes.size() >= 18, "the codes were not found: " + codes);
        assertTrue(subclasses.size() >= 6, "the ApiException types were not found: " + subclasses);
    }

    @Test
    void everyCodeHasAStatusDecidedAndNoCodeIsSpelledTwice() {
        assertEquals(new TreeSet<>(DESIGN_STATUS.keySet()), new TreeSet<>(codes.values()),
                "a code added or removed without deciding its status here");
        assertEquals(codes.size(), Set.copyOf(codes.values()).size(), "two constants share a value: " + codes);
    }

    /** An instance of an ApiException type, its constructor's arguments made up by type. */
    static ApiException instance(Class<? extends ApiException> type) {
        Constructor<?> c = type.getConstructors()[0];
        Object[] args = new Object[c.getParameterCount()];
        Class<?>[] types = c.getParameterTypes();
        for (int i = 0; i < args.length; i++) {
            if (types[i] == String.class) {
                args[i] = "X";
            } else if (types[i] == long.class) {
                args[i] = 1L;
            } else if (types[i] == int.class) {
                args[i] = 1;
            } else if (types[i] == boolean.class) {
                args[i] = true;
            }
        }
        try {
            return (ApiException) c.newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot make a " + type.getName(), e);
        }
    }

    @Test
    void everyApiExceptionTypeMapsToAnApiStatusNeverA500() {
        Map<String, Integer> statuses = new TreeMap<>();
        for (Class<? extends ApiException> type : subclasses) {
            statuses.put(type.getSimpleName(), ErrorMapper.status(instance(type)));
        }
        statuses.forEach((type, status) -> assertTrue(API_STATUSES.contains(status), type + " answers " + status));
        assertEquals(API_STATUSES, Set.copyOf(statuses.values()), "every API status has its exception type");
    }

    @Test
    void everyApiExceptionTypeLivesInTheErrorPackage() {
        // ErrorMapper decides by type: a subtype elsewhere would be one nobody mapped.
        List<String> elsewhere = subclasses.stream()
                .filter(c -> !c.getPackage().equals(ApiException.class.getPackage())).map(Class::getName).toList();
        assertEquals(List.of(), elsewhere);
    }

    /** A code in the app's bytecode, and the ApiException type being constructed around it, if any. */
    record Use(String code, String exceptionType, String where) {
    }

    /**
     * The codes as the app's classes use them. They are compile-time constants, inlined by javac, so
     * no field access is left for ArchUnit's model to find: the string constants are read from the
     * bytecode with the ASM that ArchUnit bundles.
     */
    static List<Use> codeUses() {
        Set<String> values = Set.copyOf(codes.values());
        Set<String> apiTypes = subclasses.stream().map(c -> c.getName().replace('.', '/')).collect(Collectors.toSet());
        Path root = Path.of(ErrorCodes.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        List<Use> uses = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                new ClassReader(Files.readAllBytes(p)).accept(new ClassVisitor(Opcodes.ASM9) {
                    String owner;

                    @Override
                    public void visit(int version, int access, String name, String signature, String superName,
                                      String[] interfaces) {
                        owner = name;
                    }

                    @Override
                    public MethodVisitor visitMethod(int access, String method, String descriptor, String signature,
                                                     String[] exceptions) {
                        return new MethodVisitor(Opcodes.ASM9) {
                            final Deque<String> constructing = new ArrayDeque<>();

                            @Override
                            public void visitTypeInsn(int opcode, String type) {
                                if (opcode == Opcodes.NEW) {
                                    constructing.push(type);
                                }
                            }

                            @Override
                            public void visitMethodInsn(int opcode, String target, String name, String desc,
                                                        boolean itf) {
                                if (opcode == Opcodes.INVOKESPECIAL && name.equals("<init>")
                                        && target.equals(constructing.peek())) {
                                    constructing.pop();
                                }
                            }

                            @Override
                            public void visitLdcInsn(Object value) {
                                if (!(value instanceof String s) || !values.contains(s)
                                        || owner.equals("dev/ckptvault/error/ErrorCodes")) {
                                    return;
                                }
                                String type = constructing.stream().filter(apiTypes::contains).findFirst()
                                        // super(code, ...) in an ApiException type's own constructor
                                        .orElse(method.equals("<init>") && apiTypes.contains(owner) ? owner : null);
                                uses.add(new Use(s, type == null ? null : type.replace('/', '.'),
                                        owner.replace('/', '.') + "." + method));
                            }
                        };
                    }
                }, ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return uses;
    }

    @Test
    void everyCodeIsUsedByTheApp() {
        Set<String> used = codeUses().stream().map(Use::code).collect(Collectors.toSet());
        List<String> unused = codes.values().stream().filter(c -> !used.contains(c)).toList();
        assertEquals(List.of(), unused, "codes no class of the app answers with");
    }

    @Test
    void whereverACodeIsThrownItsExceptionTypeAnswersTheDesignsStatus() throws ClassNotFoundException {
        Map<String, String> wrong = new LinkedHashMap<>();
        int paired = 0;
        for (Use u : codeUses()) {
            if (u.exceptionType() == null) {
                continue; // handed to a helper (JsonFields, RelativePath...) that builds the exception
            }
            paired++;
            int status = ErrorMapper.status(instance(Class.forName(u.exceptionType()).asSubclass(ApiException.class)));
            if (status != DESIGN_STATUS.get(u.code())) {
                wrong.put(u.where() + " " + u.code(), u.exceptionType() + " -> " + status + ", design says "
                        + DESIGN_STATUS.get(u.code()));
            }
        }
        assertTrue(paired >= 20, "the throw sites were not found: " + paired);
        assertEquals(Map.of(), wrong);
    }
}
