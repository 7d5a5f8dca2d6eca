"""Entry point of a run's driver pod: ``python -m byok8s_driver --bundle URL --config URL -- CMD...``.

The daemon uploads the submitted Snakefile directory (a gzip-compressed tar) and the run's
config to S3, because ConfigMaps and Secrets cannot hold more than 1 MiB. This fetches both
into the working directory, unpacks the bundle refusing anything that would land outside it,
and then replaces itself with the given command (Snakemake), so that signals reach Snakemake
directly. S3 credentials and the endpoint come from the standard AWS environment variables.
"""

import argparse
import io
import os
import sys
import tarfile
from urllib.parse import urlparse

CONFIG_PATH = os.path.join(".byok8s", "config.json")


def parse_arguments(argv):
    """Split the driver's own options from the command it runs after ``--``."""
    parser = argparse.ArgumentParser(prog="byok8s_driver")
    parser.add_argument("--bundle", required=True, help="s3://BUCKET/KEY of the bundle")
    parser.add_argument("--config", required=True, help="s3://BUCKET/KEY of the config")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("no command given after --")
    return options.bundle, options.config, command


def split_url(url):
    """``s3://bucket/some/key`` as ``("bucket", "some/key")``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://BUCKET/KEY URL: {url}")
    return parsed.netloc, parsed.path.lstrip("/")


def fetch(client, url):
    """The object's bytes."""
    bucket, key = split_url(url)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def unpack(archive, destination):
    """Unpack a gzip-compressed tar, refusing links, devices and paths leaving ``destination``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
        bundle.extractall(path=destination, filter="data")


def main(argv=None):
    bundle_url, config_url, command = parse_arguments(sys.argv[1:] if argv is None else argv)
    import boto3  # imported late so that argument errors need no AWS libraries

    client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    unpack(fetch(client, bundle_url), ".")
    os.makedirs(os.path.dirname(CONFIG_PATH), exist_ok=True)
    with open(CONFIG_PATH, "wb") as config:
        config.write(fetch(client, config_url))
    print(f"byok8s driver: prepared the working directory, starting {command[0]}", flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
