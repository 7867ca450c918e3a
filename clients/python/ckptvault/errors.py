"""The one exception type the client raises for service, storage and integrity failures."""


class CheckpointError(Exception):
    """A failed call: ``code`` is the service's error code (e.g. ``ManifestConflict``), storage's
    (e.g. ``AuthenticationFailed``) or the client's own (``SizeMismatch``, ``Sha256Mismatch``,
    ``CommitTimeout``, ``RankFailed``); ``status`` the HTTP status or None when no answer came."""

    def __init__(self, code, message, status=None, target=None):
        super().__init__("%s: %s" % (code, message) + ("" if status is None else " (HTTP %d)" % status))
        self.code = code
        self.message = message
        self.status = status
        self.target = target

    def __reduce__(self):
        # Picklable, so torch.distributed can carry a rank's failure to rank 0.
        return (CheckpointError, (self.code, self.message, self.status, self.target))
