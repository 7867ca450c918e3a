package dev.ckptvault.bench;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobClientBuilder;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.sas.BlobSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.sas.SasProtocol;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.storage.SasSigner;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
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

/**
 * Time to issue 1024 write URLs in-process, against an in-memory Azurite:
 * (a) the SDK floor: {@code BlobClient.generateSas} on 1024 prebuilt blob clients with one reused
 * signature-values object (the SDK's signing and nothing else); (b) {@code AccountKeySasSigner.sign};
 * (c) the whole {@code UploadService.issue} for a fresh step each round, i.e. (b) plus the write
 * gate's storage round trips; (d) the naive per-file SDK use (a client built from the connection
 * string and new values per file), for reference; (e) the one storage round trip (c) cannot do
 * without, the listing of the step's records: (c) signs while it waits on it. (a), (b), (c) and
 * (d) sign the same bytes (checked).
 */
final class SasSigningBench {
    static final int FILES = 1024;

    private SasSigningBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0);
             // The composition root first: on the emulator it fixes the SAS version before anything signs.
             TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                     OutgoingEventPublisher.DISABLED)) {
            String connectionString = azurite.connectionString();
            BlobContainerClient container = ctx.storage.container();
            SasSigner signer = ctx.signer;
            UploadService uploads = ctx.uploads;

            List<UploadRequest.FileRequest> files = new ArrayList<>(FILES);
            List<String> names = new ArrayList<>(FILES);
            CheckpointId signOnly = CheckpointId.of("bench-run", 0);
            for (int i = 0; i < FILES; i++) {
                RelativePath p = new RelativePath(String.format("rank-%05d/shard-%04d.safetensors", i / 8, i % 8));
                files.add(new UploadRequest.FileRequest(p, Optional.of(1L << 30)));
                names.add(signOnly.fileBlob(p, "path"));
            }
            UploadRequest request = new UploadRequest(files, Optional.empty());
            List<BlobClient> prebuilt = names.stream().map(container::getBlobClient).toList();
            OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS);
            OffsetDateTime start = now.minusMinutes(5);
            OffsetDateTime expiry = now.plusMinutes(30);
            BlobServiceSasSignatureValues values = values(start, expiry);

            List<String> signed = signer.sign(names, SasSigner.Access.WRITE, start, expiry);
            requireSameSignature(floor(prebuilt, values), signed);
            requireSameSignature(naive(connectionString, container.getBlobContainerName(), names, start, expiry), signed);

            Timings t = new Timings(rounds.timed(), FILES);
            int a = t.variant("(a) SDK floor: generateSas on prebuilt clients, one values object");
            int b = t.variant("(b) AccountKeySasSigner.sign(1024)");
            int c = t.variant("(c) UploadService.issue(1024), fresh step, with storage round trips");
            int d = t.variant("(d) naive: per-file BlobClientBuilder + values");
            int e = t.variant("(e) floor of (c): the step's one records listing (no signing)");
            long sink = 0;
            long step = 1;
            CheckpointId fresh = null;
            for (int r = -rounds.warmup(); r < rounds.timed(); r++) {
                // Rotate the order so no variant always runs right after another's garbage.
                for (int k = 0; k < 5; k++) {
                    int v = Math.floorMod(r + k, 5);
                    long t0 = System.nanoTime();
                    if (v == a) {
                        sink += floor(prebuilt, values).size();
                    } else if (v == b) {
                        sink += signer.sign(names, SasSigner.Access.WRITE, start, expiry).size();
                    } else if (v == c) {
                        fresh = CheckpointId.of("bench-run", step++);
                        UploadAnswer answer = uploads.issue(fresh, request);
                        sink += answer.uploads().size();
                    } else if (v == e) {
                        ctx.store.records(CheckpointId.of("bench-run", step++));
                        sink += FILES;
                    } else {
                        sink += naive(connectionString, container.getBlobContainerName(), names, start, expiry).size();
                    }
                    long elapsed = System.nanoTime() - t0;
                    if (r >= 0) {
                        t.record(v, r, elapsed);
                    }
                    if (v == c) {
                        // The fresh step's record and index rows are written beside the answer: they
                        // land here, outside the clock (a read of the step waits for them).
                        ctx.sync.get(fresh);
                    }
                }
            }
            t.print();
            if (sink != (long) FILES * 5 * (rounds.warmup() + rounds.timed())) {
                throw new IllegalStateException("a variant issued the wrong number of URLs");
            }
            double floorMs = t.medianMs(a);
            double signMs = t.medianMs(b);
            double issueMs = t.medianMs(c);
            Summary.put("sign_1024_ms", signMs);
            Summary.put("sign_sdk_floor_1024_ms", floorMs);
            Summary.put("sign_vs_floor", signMs / floorMs);
            Summary.put("sign_naive_1024_ms", t.medianMs(d));
            Summary.put("uploads_call_1024_ms", issueMs);
            Summary.put("uploads_call_vs_sign", issueMs / signMs);
            // The call signs while it lists the step, so neither alone bounds it: the slower does.
            double listMs = t.medianMs(e);
            double callFloor = Math.max(listMs, signMs);
            Summary.put("uploads_records_listing_ms", listMs);
            Summary.put("uploads_call_vs_floor", issueMs / callFloor);
            Summary.row("sign 1,024 write URLs (`AccountKeySasSigner`)", "sign_vs_floor", Summary.ms(signMs),
                    "SDK floor (prebuilt clients, one values object) " + Summary.ms(floorMs), Summary.x(signMs / floorMs),
                    "<= 1.3", signMs / floorMs <= 1.3);
            Summary.row("uploads call, fresh step, 1,024 files (in-process)", "uploads_call_vs_sign",
                    Summary.ms(issueMs), "signing alone " + Summary.ms(signMs), Summary.x(issueMs / signMs), "<= 2",
                    issueMs / signMs <= 2);
            Summary.row("the same uploads call against its floor", "uploads_call_vs_floor", Summary.ms(issueMs),
                    "the slower of its one listing " + Summary.ms(listMs) + " and signing", Summary.x(issueMs / callFloor),
                    "", null);
        }
    }

    private static BlobServiceSasSignatureValues values(OffsetDateTime start, OffsetDateTime expiry) {
        return new BlobServiceSasSignatureValues(expiry,
                new BlobSasPermission().setCreatePermission(true).setWritePermission(true))
                .setStartTime(start).setProtocol(SasProtocol.HTTPS_HTTP);
    }

    /** What the SDK costs at best: signing only, every client and the values built before the clock starts. */
    private static List<String> floor(List<BlobClient> blobs, BlobServiceSasSignatureValues values) {
        List<String> out = new ArrayList<>(blobs.size());
        for (BlobClient blob : blobs) {
            out.add(blob.generateSas(values));
        }
        return out;
    }

    /** The naive way: everything built per file, as SDK samples show for a single blob. */
    private static List<String> naive(String connectionString, String container, List<String> names,
                                      OffsetDateTime start, OffsetDateTime expiry) {
        List<String> urls = new ArrayList<>(names.size());
        for (String name : names) {
            BlobClient blob = new BlobClientBuilder().connectionString(connectionString)
                    .containerName(container).blobName(name).buildClient();
            urls.add(blob.getBlobUrl() + "?" + blob.generateSas(values(start, expiry)));
        }
        return urls;
    }

    /** Every variant must sign exactly the same thing, or the comparison would be meaningless. */
    private static void requireSameSignature(List<String> other, List<String> signed) {
        for (int i = 0; i < other.size(); i++) {
            String x = other.get(i).substring(other.get(i).indexOf('?') + 1);
            String y = signed.get(i).substring(signed.get(i).indexOf('?') + 1);
            if (!x.equals(y)) {
                throw new IllegalStateException("the variants sign URL " + i + " differently");
            }
        }
    }
}
