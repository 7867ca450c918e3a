#!/usr/bin/python3
"""A tiny data-parallel trainer that checkpoints through ckptvault and resumes bit-exactly.

Two processes (torch.distributed, gloo, CPU) train one small model. Every ``--every`` steps each
rank saves its own shard (the parameters and momentum buffers it owns, plus its RNG state) and
uploads it in the background; at the next checkpoint rank 0 gathers every rank's files and commits.
On start the job resumes from the run's latest COMMITTED checkpoint: kill it at any moment
(SIGKILL included), start it again, and it ends with the same parameters, bit for bit, as a run
that was never interrupted.

    export CKPT_TOKEN=$(ckptvault token create demo --scope write)   # the launcher, with the admin key
    /usr/bin/python3 examples/pytorch/train.py --base-url http://127.0.0.1:7071 --run-id demo \\
        --steps 40 --every 5 --workdir /tmp/demo --out /tmp/demo/final.bin

With ``--local-dir DIR`` it talks to no service: it writes each checkpoint to ``DIR/step-N/`` in
the PyTorch DCP directory layout (``__{rank}_0.distcp`` per rank, then ``.metadata`` written last
by rank 0 once every rank's file is complete) and resumes from the newest ``DIR/step-N`` that has
its ``.metadata``; ``ckptvault sync --format dcp --watch DIR`` uploads them. (torch 1.13 has no
torch.distributed.checkpoint: the files are torch.save pickles in DCP's names, not DCP's format.)

Credentials: a write token of the run in ``CKPT_TOKEN`` (or ``--token``), issued by the launcher with
the admin key (``ckptvault token create RUN --scope write``); the ranks never need the admin key.

PyTorch comes from Debian (apt-get install python3-torch), seen by /usr/bin/python3 only.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

try:
    import ckptvault  # noqa: F401
except ImportError:  # running from a checkout: use the client next door
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from ckptvault import CheckpointClient, CheckpointError  # noqa: E402
from ckptvault.torch_dist import download_latest, gather_and_commit  # noqa: E402


def build_model(seed):
    torch.manual_seed(seed)  # the same initial weights on every rank
    return torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                               torch.nn.Linear(64, 1))


def batch(seed, step, rank):
    """The data of one step is a function of (seed, step, rank): nothing to checkpoint for it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step * 101 + rank)
    x = torch.randn(32, 16, generator=g)
    return x, torch.sin(x.sum(dim=1, keepdim=True))


def owned(index, world):
    return index % world


def save_shard(path, rank, world, step, params, optimizer, pad_mib=0, seed=0):
    """This rank's shard: the tensors it owns (ZeRO-style) and its own RNG stream; ``pad_mib`` adds a
    deterministic tensor so the file is at least that big (tests need shards of several blocks)."""
    mine = {i: p.detach().clone() for i, p in enumerate(params) if owned(i, world) == rank}
    momentum = {i: optimizer.state[params[i]]["momentum_buffer"].clone() for i in mine}
    shard = {"step": step, "rank": rank, "params": mine, "momentum": momentum, "rng": torch.get_rng_state()}
    if pad_mib:
        # Its own generator: drawing it must not move the training RNG streams.
        g = torch.Generator().manual_seed(seed * 1_000_003 + step * 101 + rank)
        shard["pad"] = torch.randn(pad_mib * (1 << 20) // 4, generator=g)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(shard, path)


def load_shard(path, rank, world, params, optimizer):
    """Loads this rank's shard and receives every other tensor from the rank that owns it."""
    shard = torch.load(path)
    if shard["rank"] != rank:
        raise RuntimeError("shard %s belongs to rank %d" % (path, shard["rank"]))
    torch.set_rng_state(shard["rng"])
    with torch.no_grad():
        for i, p in enumerate(params):
            src = owned(i, world)
            value = shard["params"][i] if src == rank else torch.empty_like(p)
            buf = shard["momentum"][i] if src == rank else torch.empty_like(p)
            dist.broadcast(value, src=src)
            dist.broadcast(buf, src=src)
            p.copy_(value)
            optimizer.state[p]["momentum_buffer"] = buf.clone()
    return shard["step"]


def local_steps(local_dir):
    """Steps of DIR/step-N that are finished (their .metadata exists), oldest first."""
    steps = []
    for name in os.listdir(local_dir) if os.path.isdir(local_dir) else []:
        if name.startswith("step-") and name[5:].isdigit() and os.path.isfile(
                os.path.join(local_dir, name, ".metadata")):
            steps.append(int(name[5:]))
    return sorted(steps)


def save_local(args, rank, world, step, params, optimizer):
    """DCP's protocol: every rank writes its file, then (after a barrier) rank 0 the .metadata."""
    folder = os.path.join(args.local_dir, "step-%d" % step)
    save_shard(os.path.join(folder, "__%d_0.distcp" % rank), rank, world, step, params, optimizer,
               args.shard_mib, args.seed)
    dist.barrier()
    if rank == 0:
        tmp = os.path.join(folder, ".metadata.tmp")
        with open(tmp, "w") as fh:
            json.dump({"step": step, "worldSize": world,
                       "files": ["__%d_0.distcp" % r for r in range(world)]}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(folder, ".metadata"))  # the marker appears whole, last


def worker_local(rank, args, model, params, optimizer, log):
    world = args.world_size
    start = 0
    done_steps = local_steps(args.local_dir)
    if done_steps:
        folder = os.path.join(args.local_dir, "step-%d" % done_steps[-1])
        start = load_shard(os.path.join(folder, "__%d_0.distcp" % rank), rank, world, params, optimizer)
        log("resumed from step %d" % start)
    else:
        log("no finished checkpoint in %s: starting at step 0" % args.local_dir)
    for step in range(start, args.steps):
        train_step(args, rank, world, step, model, params, optimizer)
        done = step + 1
        if done % args.every == 0:
            save_local(args, rank, world, done, params, optimizer)
            if rank == 0:
                log("wrote %s" % os.path.join(args.local_dir, "step-%d" % done))
        if args.step_delay:
            time.sleep(args.step_delay)


def worker_service(rank, args, model, params, optimizer, log):
    world = args.world_size
    client = CheckpointClient(args.base_url, token=args.token, progress=False, block_size=args.block_kib * 1024)
    rank_dir = os.path.join(args.workdir, "rank-%05d" % rank)

    start = 0
    restore = os.path.join(rank_dir, "restore")
    shutil.rmtree(restore, ignore_errors=True)
    checkpoint = download_latest(client, args.run_id, restore)
    if checkpoint is not None:
        start = load_shard(os.path.join(restore, "rank-%05d" % rank, "shard.pt"), rank, world, params, optimizer)
        log("resumed from step %d" % start)
    else:
        log("no committed checkpoint: starting at step 0")

    pending = None  # (step, future of this rank's upload, metrics)

    def finish(pending):
        step, future, metrics = pending
        try:
            mine = future.result()
        except (CheckpointError, OSError) as e:
            mine = e
        try:
            committed = gather_and_commit(client, args.run_id, step, mine, metrics, {"framework": "torch"})
            if rank == 0:
                log("committed step %d (%d files, %d bytes)" % (
                    step, len(committed["files"]), sum(f["size"] for f in committed["files"])))
        except CheckpointError as e:
            # A lost checkpoint is not worth losing the training run for; the next one will do.
            log("checkpoint %d not committed: %s" % (step, e))
        shutil.rmtree(os.path.join(rank_dir, "step-%d" % step), ignore_errors=True)

    for step in range(start, args.steps):
        loss = train_step(args, rank, world, step, model, params, optimizer)
        done = step + 1
        if done % args.every == 0:
            if pending is not None:
                finish(pending)
            shard = os.path.join(rank_dir, "step-%d" % done, "shard.pt")
            save_shard(shard, rank, world, done, params, optimizer, args.shard_mib, args.seed)
            future = client.upload_checkpoint_async(args.run_id, done, {"shard.pt": shard}, rank=rank,
                                                    world_size=world)
            pending = (done, future, {"loss": float(loss.item())})
        if args.step_delay:
            time.sleep(args.step_delay)
    if pending is not None:
        finish(pending)
    client.close()


def train_step(args, rank, world, step, model, params, optimizer):
    x, y = batch(args.seed, step, rank)
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    for p in params:
        dist.all_reduce(p.grad)
        p.grad /= world
    optimizer.step()
    return loss


def worker(rank, args):
    world = args.world_size
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    model = build_model(args.seed)
    torch.manual_seed(args.seed * 7919 + rank)  # each rank's own dropout stream
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    log = lambda msg: print("[rank %d] %s" % (rank, msg), flush=True)  # noqa: E731
    model.train()
    if args.local_dir:
        worker_local(rank, args, model, params, optimizer, log)
    else:
        worker_service(rank, args, model, params, optimizer, log)

    if rank == 0 and args.out:
        data = b"".join(p.detach().contiguous().numpy().tobytes() for p in params)
        with open(args.out, "wb") as fh:
            fh.write(data)
        log("final parameters sha256 %s" % hashlib.sha256(data).hexdigest())
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="the app's root, e.g. http://127.0.0.1:7071")
    parser.add_argument("--token", default=os.environ.get("CKPT_TOKEN"),
                        help="write token of the run (default: CKPT_TOKEN, where a launcher puts it)")
    parser.add_argument("--run-id")
    parser.add_argument("--local-dir", help="no service: write DIR/step-N in the DCP layout (for ckptvault sync)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=5, help="checkpoint every K steps")
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--workdir", help="scratch space for shards and restores (service mode)")
    parser.add_argument("--out", help="rank 0 writes the final parameters' raw bytes here")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds of sleep per step (demos, tests)")
    parser.add_argument("--shard-mib", type=int, default=0, help="pad each rank's shard to at least N MiB")
    parser.add_argument("--block-kib", type=int, default=8192, help="upload/download block size")
    args = parser.parse_args(argv)
    if not args.local_dir and not (args.base_url and args.run_id and args.workdir):
        parser.error("--base-url, --run-id and --workdir are required unless --local-dir is given")
    if not args.local_dir and not args.token:
        # One line saying what to do, instead of a rank's 401 traceback after the processes started.
        parser.error("no run token: set CKPT_TOKEN to a write token of the run (ckptvault token create RUN "
                     "--scope write, with the admin key)")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    mp.spawn(worker, args=(args,), nprocs=args.world_size, join=True)


if __name__ == "__main__":
    main()
