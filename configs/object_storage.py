"""How Loki and Tempo sign their requests to object storage on Kubernetes without the key pair
in their config or environment: an AWS shared credentials file, mounted from a Secret, that the
S3 client of each finds through AWS_SHARED_CREDENTIALS_FILE (a path, no secret).

Loki v3.7.6 builds its S3 client with aws-sdk-go-v2's `config.LoadDefaultConfig` and sets static
credentials only when `access_key_id` is set (grafana/loki v3.7.6
pkg/storage/chunk/client/aws/s3_storage_client.go `buildS3Client`, `s3ClientConfigFunc`); the
SDK's default chain reads the file the variable names (vendor/github.com/aws/aws-sdk-go-v2/config
env_config.go, `AWS_SHARED_CREDENTIALS_FILE`). Tempo v3.0.3 chains minio-go providers after its
empty static keys, `FileAWSCredentials` among them (grafana/tempo v3.0.3 tempodb/backend/s3/s3.go
`fetchCreds`; vendor/github.com/minio/minio-go/v7/pkg/credentials/file_aws_credentials.go reads
the same variable and the `default` profile).
"""

from typing import Final
from urllib.parse import urlsplit

from services import Service, secrets_dir
from settings import ObjectStorage

CREDENTIALS_ENV: Final = "AWS_SHARED_CREDENTIALS_FILE"
# The profile both clients read when AWS_PROFILE is unset.
PROFILE: Final = "default"


def credentials_path(service: Service) -> str:
    """Where the service's pods find the file (its secrets dir, read-only)."""
    return f"{secrets_dir(service)}/object-storage-credentials"


def credentials_file(access_key_id: str, secret_access_key: str) -> str:
    """The file's text: one profile in the INI form both SDKs parse."""
    return (f"[{PROFILE}]\naws_access_key_id = {access_key_id}\n"
            f"aws_secret_access_key = {secret_access_key}\n")


def endpoint_port(storage: ObjectStorage) -> int:
    """The port the endpoint answers on: its own, else the scheme's."""
    port = urlsplit(f"//{storage.endpoint}").port
    return port if port is not None else (80 if storage.insecure else 443)
