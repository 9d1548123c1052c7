#!/usr/bin/env python3
"""The official client's multipart upload through the artifacts proxy into S3.

    s3_multipart.py URL

The server proxies artifacts to an S3-compatible bucket (`--artifacts-destination s3://…`). With
MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD the client asks the server to start a multipart upload
(`mpu/create`), PUTs each part to the presigned URL it gets back (straight to S3), then completes it
(`mpu/complete`). Checks: the client took that path (no fallback to a single PUT through the server),
the file downloads back byte for byte, and an aborted upload (`mpu/abort`) leaves no file.
"""
import hashlib
import os
import sys
import tempfile
import time

os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "true"
os.environ["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"] = str(1024 * 1024)
os.environ["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"] = str(5 * 1024 * 1024)  # S3's smallest part

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository  # noqa: E402

uploads_done = []
_try = HttpArtifactRepository._try_multipart_upload


def _recording(self, local_file, artifact_path=None):
    _try(self, local_file, artifact_path)  # raises when the server does not support it
    uploads_done.append(local_file)


HttpArtifactRepository._try_multipart_upload = _recording


def main():
    url = sys.argv[1]
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    experiment_id = client.create_experiment(f"s3-multipart-{time.time_ns()}")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        data = os.urandom(12 * 1024 * 1024 + 12345)  # three parts: 5 MiB, 5 MiB and the rest
        source = os.path.join(tmp, "weights.bin")
        with open(source, "wb") as f:
            f.write(data)
        client.log_artifact(run_id, source, "deep/dir")
        assert uploads_done == [source], f"the client fell back to a single PUT: {uploads_done}"
        listed = {f.path: f.file_size for f in client.list_artifacts(run_id, "deep/dir")}
        assert listed == {"deep/dir/weights.bin": len(data)}, listed
        back = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="deep/dir/weights.bin", dst_path=tmp + "/out")
        with open(back, "rb") as f:
            assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest(), "downloaded bytes differ"

        # An upload that is started and aborted leaves nothing.
        repo = HttpArtifactRepository(f"{url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts")
        aborted = os.path.join(tmp, "aborted.bin")
        create = repo.create_multipart_upload(aborted, 2, "other")
        assert create.upload_id and [c.part_number for c in create.credentials] == [1, 2], create.to_dict()
        repo.abort_multipart_upload(aborted, create.upload_id, "other")
        assert client.list_artifacts(run_id, "other") == [], client.list_artifacts(run_id, "other")
    client.set_terminated(run_id)
    print(f"multipart upload: {len(data)} bytes in 3 parts through presigned URLs, read back intact; abort leaves nothing")


if __name__ == "__main__":
    main()
