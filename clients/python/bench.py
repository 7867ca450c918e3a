"""Upload/download throughput of the Python client for one file, as JSON on stdout.

Run by the Java bench (`mvn -Pbench test-compile exec:java -Dexec.args=PythonClientBench`), which
measures the Java SDK on the same bytes in the same run and prints both; or by hand:

    CKPT_TOKEN=... python3 clients/python/bench.py --base-url http://127.0.0.1:7071 --file /tmp/256m.bin --run-id bench --step 1
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ckptvault import CheckpointClient  # noqa: E402

MiB = 1 << 20


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--step", type=int, required=True)
    p.add_argument("--block-mib", type=int, default=8)
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args()
    size = os.path.getsize(args.file)
    # The run's write token comes from CKPT_TOKEN, never from the command line.
    with CheckpointClient(args.base_url, block_size=args.block_mib * MiB,
                          max_workers=args.workers, progress=False) as client:
        t0 = time.perf_counter()
        # world_size=2 uploads without committing: the commit is not part of the transfer time.
        result = client.upload_checkpoint(args.run_id, args.step, {"data.bin": args.file}, rank=0, world_size=2,
                                          prefix="")
        upload = time.perf_counter() - t0
        client.commit(args.run_id, args.step, {"files": result["files"]})
        with tempfile.TemporaryDirectory(prefix="ckptvault-bench-") as dest:
            t0 = time.perf_counter()
            client.download_checkpoint(args.run_id, args.step, dest)
            download = time.perf_counter() - t0
    print(json.dumps({"bytes": size, "uploadSeconds": upload, "downloadSeconds": download,
                      "uploadMiBps": size / MiB / upload, "downloadMiBps": size / MiB / download}))


if __name__ == "__main__":
    main()
