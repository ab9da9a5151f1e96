#!/usr/bin/env python3
"""Writes a one-layer image with no base (`FROM scratch`) as a tarball that both `ctr images
import` (OCI image layout: oci-layout, index.json, blobs/) and `docker load` (its own
manifest.json, beside the OCI layout in the same tarball) accept. No registry, no Docker.

Used by scripts/image.sh; run it through that script. The tarball is reproducible: every file
time is 0, entries are sorted, owners are root, so the same inputs give the same image digest.

Usage: oci-image.py OUT.tar NAME:TAG --entrypoint JSON --user UID:GID
                    --file SRC:DEST:OCTALMODE ... [--label K=V ...]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def entry(tar, name, data, mode, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer(files):
    """The filesystem: every parent folder (0755), then the files, sorted by path."""
    folders = set()
    for _, dest, _ in files:
        parts = dest.strip("/").split("/")[:-1]
        folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in sorted(folders):
            entry(tar, folder, None, 0o755, tarfile.DIRTYPE)
        for src, dest, mode in sorted(files, key=lambda f: f[1]):
            with open(src, "rb") as f:
                entry(tar, dest.strip("/"), f.read(), mode)
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("name", help="NAME:TAG, e.g. localhost/ageseal-controller:0.1.0")
    ap.add_argument("--entrypoint", required=True, help='JSON list, e.g. ["/bin/x"]')
    ap.add_argument("--user", required=True, help="UID:GID")
    ap.add_argument("--file", action="append", default=[], help="SRC:DEST:OCTALMODE")
    ap.add_argument("--label", action="append", default=[], help="K=V")
    a = ap.parse_args()
    repository, tag = a.name.rsplit(":", 1)
    files = []
    for spec in a.file:
        src, dest, mode = spec.rsplit(":", 2)
        files.append((src, dest, int(mode, 8)))

    blobs = {}

    def blob(data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    raw = layer(files)
    layer_desc = blob(gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    epoch = "1970-01-01T00:00:00Z"
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": epoch,
        "config": {
            "User": a.user,
            "Entrypoint": json.loads(a.entrypoint),
            "Env": ["PATH=/usr/local/bin"],
            "Labels": dict(label.split("=", 1) for label in a.label),
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": epoch, "created_by": "scripts/image.sh"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_desc = blob(config_bytes, "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    }
    manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode(),
                         "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {
        "io.containerd.image.name": a.name,
        "org.opencontainers.image.ref.name": tag,
    }
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [manifest_desc]}
    # docker load reads manifest.json: the config and layers by path inside the tarball.
    docker = [{"Config": "blobs/sha256/" + config_desc["digest"][7:],
               "RepoTags": [a.name],
               "Layers": ["blobs/sha256/" + layer_desc["digest"][7:]]}]
    partial = a.out + ".partial"
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        entry(tar, "blobs", None, 0o755, tarfile.DIRTYPE)
        entry(tar, "blobs/sha256", None, 0o755, tarfile.DIRTYPE)
        for digest in sorted(blobs):
            entry(tar, "blobs/sha256/" + digest, blobs[digest], 0o644)
        entry(tar, "index.json", json.dumps(index, sort_keys=True).encode(), 0o644)
        entry(tar, "manifest.json", json.dumps(docker).encode(), 0o644)
        entry(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644)
    os.replace(partial, a.out)
    print(f"{a.name} {manifest_desc['digest']} {os.path.getsize(a.out)} bytes "
          f"({layer_desc['size']} compressed, {len(raw)} unpacked)")


if __name__ == "__main__":
    main()
