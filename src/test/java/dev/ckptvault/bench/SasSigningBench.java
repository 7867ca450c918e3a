package dev.ckptvault.bench;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobClientBuilder;
import com.azure.storage.blob.sas.BlobSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.sas.SasProtocol;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.storage.SasSigner;
import dev.ckptvault.upload.UploadAnswer;
import dev.ckptvault.upload.UploadRequest;
import dev.ckptvault.upload.UploadService;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.events.OutgoingEventPublisher;

/**
 * Time to issue 1024 write URLs in-process, against an in-memory Azurite:
 * (a) baseline, the naive per-file SDK use: a client built from the connection string and a new
 * signature-values object per file; (b) {@code AccountKeySasSigner.sign} with one reused container
 * client and one values object; (c) the whole {@code UploadService.issue} for a fresh step each
 * round, i.e. (b) plus the write gate's storage round trips (list the step's records, create the
 * attempt record).
 */
final class SasSigningBench {
    static final int FILES = 1024;

    private SasSigningBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            String connectionString = azurite.connectionString();
            // The composition root first: on the emulator it fixes the SAS version before anything signs.
            TestApp ctx = AzuriteExtension.app(connectionString, Map.of(), Clock.systemUTC(),
                    OutgoingEventPublisher.DISABLED);
            String container = ctx.config.container();
            SasSigner signer = ctx.signer;
            UploadService uploads = ctx.uploads;

            List<RelativePath> paths = new ArrayList<>(FILES);
            List<UploadRequest.FileRequest> files = new ArrayList<>(FILES);
            for (int i = 0; i < FILES; i++) {
                RelativePath p = new RelativePath(String.format("rank-%05d/shard-%04d.safetensors", i / 8, i % 8));
                paths.add(p);
                files.add(new UploadRequest.FileRequest(p, Optional.of(1L << 30)));
            }
            UploadRequest request = new UploadRequest(files, Optional.empty());
            CheckpointId signOnly = CheckpointId.of("bench-run", 0);
            List<String> names = new ArrayList<>(FILES);
            for (RelativePath p : paths) {
                names.add(signOnly.fileBlob(p, "path"));
            }
            OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS);
            OffsetDateTime start = now.minusMinutes(5);
            OffsetDateTime expiry = now.plusMinutes(30);

            requireSameSignature(baseline(connectionString, container, names, start, expiry),
                    signer.sign(names, SasSigner.Access.WRITE, start, expiry));

            Timings t = new Timings(rounds.timed(), FILES);
            int a = t.variant("(a) per-file BlobClientBuilder + generateSas (baseline)");
            int b = t.variant("(b) AccountKeySasSigner.sign(1024)");
            int c = t.variant("(c) UploadService.issue(1024), fresh step, with storage round trips");
            long sink = 0;
            long step = 1;
            for (int r = -rounds.warmup(); r < rounds.timed(); r++) {
                // Rotate the order so no variant always runs right after another's garbage.
                for (int k = 0; k < 3; k++) {
                    int v = Math.floorMod(r + k, 3);
                    long t0 = System.nanoTime();
                    if (v == a) {
                        sink += baseline(connectionString, container, names, start, expiry).size();
                    } else if (v == b) {
                        sink += signer.sign(names, SasSigner.Access.WRITE, start, expiry).size();
                    } else {
                        UploadAnswer answer = uploads.issue(CheckpointId.of("bench-run", step++), request);
                        sink += answer.uploads().size();
                    }
                    long elapsed = System.nanoTime() - t0;
                    if (r >= 0) {
                        t.record(v, r, elapsed);
                    }
                }
            }
            t.print();
            if (sink != (long) FILES * 3 * (rounds.warmup() + rounds.timed())) {
                throw new IllegalStateException("a variant issued the wrong number of URLs");
            }
        }
    }

    /** The naive way: everything built per file, as SDK samples show for a single blob. */
    private static List<String> baseline(String connectionString, String container, List<String> names,
                                         OffsetDateTime start, OffsetDateTime expiry) {
        List<String> urls = new ArrayList<>(names.size());
        for (String name : names) {
            BlobClient blob = new BlobClientBuilder().connectionString(connectionString)
                    .containerName(container).blobName(name).buildClient();
            BlobServiceSasSignatureValues values = new BlobServiceSasSignatureValues(expiry,
                    new BlobSasPermission().setCreatePermission(true).setWritePermission(true))
                    .setStartTime(start).setProtocol(SasProtocol.HTTPS_HTTP);
            urls.add(blob.getBlobUrl() + "?" + blob.generateSas(values));
        }
        return urls;
    }

    /** Both ways must sign exactly the same thing, or the comparison would be meaningless. */
    private static void requireSameSignature(List<String> baseline, List<String> signed) {
        for (int i = 0; i < baseline.size(); i++) {
            String x = baseline.get(i).substring(baseline.get(i).indexOf('?'));
            String y = signed.get(i).substring(signed.get(i).indexOf('?'));
            if (!x.equals(y)) {
                throw new IllegalStateException("baseline and signer differ for URL " + i);
            }
        }
    }
}
