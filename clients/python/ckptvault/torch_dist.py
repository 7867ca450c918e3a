"""The multi-rank convention on torch.distributed: every rank uploads its own files, rank 0 gathers
every rank's (path, size, eTag, sha256) and commits; every rank learns the outcome.

Optional: importing this module needs torch; ``ckptvault`` itself does not. Every function here is
a collective: call it on every rank of ``group``, from the thread that runs the other collectives.

Credentials travel with the client: give every rank ``CheckpointClient(url, token=...)`` with the
run's write token (or set ``CKPT_TOKEN`` in the job's environment, which the client reads when no
credential is passed). No app-wide key is needed on a training node.
"""

import torch.distributed as dist

from .client import manifest_from
from .errors import CheckpointError


def upload_and_commit(client, run_id, step, files_or_dir, metrics=None, metadata=None, group=None,
                      **upload_kwargs):
    """Uploads this rank's files (under ``rank-NNNNN/``) and commits on rank 0.

    Returns the committed checkpoint on every rank; raises CheckpointError on every rank when any
    rank's upload or the commit failed, so no rank hangs in a collective waiting for another.
    """
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    try:
        mine = client.upload_checkpoint(run_id, step, files_or_dir, rank=rank, world_size=world,
                                        **upload_kwargs)
    except (CheckpointError, OSError, ValueError) as e:
        mine = e
    return gather_and_commit(client, run_id, step, mine, metrics, metadata, group)


def gather_and_commit(client, run_id, step, upload_result, metrics=None, metadata=None, group=None):
    """Rank 0 commits every rank's ``upload_result`` (what upload_checkpoint returned, or the
    exception it raised). Fits ``upload_checkpoint_async``: pass ``future.result()`` (or the
    exception) at a point where all ranks run collectives anyway."""
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    if isinstance(upload_result, BaseException):
        mine = ("error", "%s: %s" % (type(upload_result).__name__, upload_result))
    else:
        mine = ("ok", upload_result["files"])
    gathered = [None] * world if rank == 0 else None
    dist.gather_object(mine, gathered, dst=_global_rank(0, group), group=group)

    outcome = [None]
    if rank == 0:
        failed = ["rank %d: %s" % (r, detail) for r, (status, detail) in enumerate(gathered) if status != "ok"]
        if failed:
            outcome[0] = ("error", CheckpointError("RankFailed", "checkpoint %s/%s not committed; %s" % (
                run_id, step, "; ".join(failed))))
        else:
            manifest = manifest_from([files for _, files in gathered], metrics, metadata)
            try:
                outcome[0] = ("ok", client.commit(run_id, step, manifest))
            except CheckpointError as e:
                outcome[0] = ("error", e)
    # The broadcast is the barrier: no rank goes on before the commit is decided.
    dist.broadcast_object_list(outcome, src=_global_rank(0, group), group=group)
    status, value = outcome[0]
    if status != "ok":
        raise value
    return value


def download_latest(client, run_id, dest_dir, group=None, prefix=None):
    """Every rank downloads the same latest COMMITTED checkpoint (rank 0 decides which step, so a
    commit landing meanwhile cannot split the ranks), only its own ``rank-NNNNN/`` files unless
    ``prefix`` says otherwise. Returns the checkpoint, or None on every rank when there is none."""
    rank = dist.get_rank(group)
    chosen = [None]
    if rank == 0:
        latest = client.latest(run_id)
        chosen[0] = None if latest is None else latest["step"]
    dist.broadcast_object_list(chosen, src=_global_rank(0, group), group=group)
    if chosen[0] is None:
        return None
    if prefix is None:
        prefix = "rank-%05d/" % rank
    return client.download_checkpoint(run_id, chosen[0], dest_dir, prefix=prefix)


def _global_rank(group_rank, group):
    if group is None:
        return group_rank
    return dist.distributed_c10d._get_global_rank(group, group_rank)
