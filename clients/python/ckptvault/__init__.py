"""ckptvault: checkpoint uploads and downloads for trainers, Python standard library only.

    from ckptvault import CheckpointClient
    client = CheckpointClient("https://<app>.azurewebsites.net", token="...")  # or CKPT_TOKEN
    client.upload_checkpoint("run-1", 1200, "ckpt/step-1200", metrics={"loss": 0.5})
    client.download_checkpoint("run-1", "latest", "restore/")
"""

from ._http import RetryPolicy
from .client import CheckpointClient, manifest_from
from .errors import CheckpointError

__all__ = ["CheckpointClient", "CheckpointError", "RetryPolicy", "manifest_from"]
__version__ = "0.1.0"
