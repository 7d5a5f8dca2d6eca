"""Tests of the byok8s driver's argument handling and bundle unpacking."""

import io
import os
import tarfile
import tempfile
import unittest

from byok8s_driver.__main__ import parse_arguments, split_url, unpack


def archive(members):
    """A gzip-compressed tar of (name, data) regular files, or (name, None, linkname) links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data, *link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link[0]
                bundle.addfile(info)
            else:
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class ArgumentsTest(unittest.TestCase):
    def test_the_command_after_the_double_dash_is_kept_whole(self):
        bundle, config, command = parse_arguments(
            ["--bundle", "s3://b/k1", "--config", "s3://b/k2", "--", "snakemake", "--", "-x"]
        )
        self.assertEqual((bundle, config), ("s3://b/k1", "s3://b/k2"))
        self.assertEqual(command, ["snakemake", "--", "-x"])

    def test_a_missing_command_is_an_error(self):
        with self.assertRaises(SystemExit):
            parse_arguments(["--bundle", "s3://b/k", "--config", "s3://b/c", "--"])

    def test_urls_split_into_bucket_and_key(self):
        self.assertEqual(split_url("s3://bucket/a/b.tar.gz"), ("bucket", "a/b.tar.gz"))
        with self.assertRaises(ValueError):
            split_url("https://bucket/a")


class UnpackTest(unittest.TestCase):
    def test_files_land_in_the_destination(self):
        with tempfile.TemporaryDirectory() as directory:
            unpack(archive([("rules/a.smk", b"rule a:\n")]), directory)
            with open(os.path.join(directory, "rules/a.smk"), "rb") as unpacked:
                self.assertEqual(unpacked.read(), b"rule a:\n")

    def test_paths_leaving_the_destination_are_refused(self):
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(tarfile.FilterError):
                unpack(archive([("../escape", b"x")]), directory)

    def test_links_pointing_outside_are_refused(self):
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(tarfile.FilterError):
                unpack(archive([("link", None, "/etc/passwd")]), directory)


if __name__ == "__main__":
    unittest.main()
