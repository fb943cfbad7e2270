#!/usr/bin/env python3
"""Copy reference databases that a running `mlham generate` may still be writing into data/ as xz files,
and update data/manifest.json (frames and molecules per file).

usage: python data/snapshot.py runs/mol-test.db runs/mol-train.db ...   (writes data/mol-test.db.xz, ...)

Each database is first copied with SQLite's online backup (a consistent snapshot: rows written in
one transaction are all in or all out), then compressed. Standard library only.
"""
import json
import lzma
import os
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def snapshot(path: str) -> dict:
    name = os.path.basename(path)
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, name)
        source, target = sqlite3.connect(f"file:{path}?mode=ro", uri=True), sqlite3.connect(copy)
        with target:
            source.backup(target)
        source.close()
        rows = target.execute("select key_value_pairs from systems").fetchall()
        target.close()
        molecules = {json.loads(kvp)["molecule"] for (kvp,) in rows}
        with open(copy, "rb") as raw, lzma.open(os.path.join(HERE, name + ".xz.partial"), "wb", preset=9) as packed:
            packed.write(raw.read())
    os.replace(os.path.join(HERE, name + ".xz.partial"), os.path.join(HERE, name + ".xz"))
    return {"frames": len(rows), "molecules": len(molecules)}


def main() -> int:
    manifest_path = os.path.join(HERE, "manifest.json")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    for path in sys.argv[1:]:
        manifest[os.path.basename(path) + ".xz"] = counts = snapshot(path)
        print(f"{path}: {counts['frames']} frames of {counts['molecules']} molecules")
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
