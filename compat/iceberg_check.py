"""Reads lakestream's Iceberg tables with DuckDB or pyiceberg; prints JSON.

Run by iceberg_test.go (make compat), one engine per run:

    python iceberg_check.py --engine duckdb --specs iceberg-specs.json --out result.json
    python iceberg_check.py --engine pyiceberg --specs iceberg-specs.json --out result.json

iceberg-specs.json lists the tables (iceberg_tables_test.go's icebergSpec):
the table root and its Iceberg location, the columns and their kinds, the
partition to filter on, the snapshot to travel to. For each table this
answers:

  snapshot     the current snapshot: row count, the checksum of every
               column, rows per partition, the schema the engine reads
  partition    a filter on the partition columns: the same, plus rows per
               data file (by _hoodie_file_name) and the data files the
               engine plans to read (partition_files)
  partitions   pyiceberg only: inspect.partitions(), the rows and data
               files of each partition (DuckDB has no such table)
  as_of        time travel to the snapshot of a Hudi instant
  snapshots    the snapshots the engine lists: ID, and with pyiceberg the
               summary's lakestream.hudi.instant and operation

duckdb: the Python duckdb package and its iceberg extension, both 1.5.5
(the DuckDB duckdb-go embeds), the extension loaded from the file pip
installed (duckdb-extension-iceberg, and -avro which it needs), never
downloaded: autoinstall_known_extensions and autoload_known_extensions
are off. iceberg_scan(location) reads metadata/version-hint.text, then
v<N>.metadata.json.

pyiceberg: StaticTable.from_metadata(location) (it reads the version
hint too), scan().to_arrow().

Checksums as in spark_check.py: the md5 of a column's canonical values
('N' for null, else 'V' and the value), sorted bytewise, joined by
newlines. DuckDB computes them in SQL (the expressions of
reference_test.go); pyiceberg's Arrow tables go through hudirs_check.py's
answer().
"""

import argparse
import importlib
import json
import os
import re
import sys
import time
import traceback

DUCK_KINDS = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "long", "TIMESTAMP WITH TIME ZONE": "timestamp",
              "BLOB": "binary", "BOOLEAN": "boolean", "DATE": "date"}


def error_text(e):
    return ("%s: %s" % (type(e).__name__, e))[:3000]


def literal(spec, field, value):
    kind = {c["name"]: c["kind"] for c in spec["columns"]}.get(field, "string")
    if kind in ("int", "long"):
        return str(int(value))
    return "'%s'" % value.replace("'", "''")


# --- DuckDB ---------------------------------------------------------------

def dq(name):
    return '"' + name.replace('"', '""') + '"'


def duck_canonical(col):
    q = dq(col["name"])
    kind = col["kind"]
    v = {"string": q, "int": "CAST(%s AS VARCHAR)" % q, "long": "CAST(%s AS VARCHAR)" % q,
         "boolean": "CAST(%s AS VARCHAR)" % q, "timestamp": "CAST(epoch_us(%s) AS VARCHAR)" % q,
         "binary": "hex(%s)" % q, "date": "strftime(%s, '%%Y-%%m-%%d')" % q}[kind]
    return "CASE WHEN %s IS NULL THEN 'N' ELSE 'V' || %s END" % (q, v)


def duck_answer(con, source, spec, where="", per_file=False):
    cols = spec["columns"]
    sel = ["count(*)"] + ["coalesce(md5(string_agg(%s, chr(10) ORDER BY %s)), md5(''))" % (duck_canonical(c), duck_canonical(c))
                          for c in cols]
    row = con.execute("SELECT %s FROM %s %s" % (", ".join(sel), source, where)).fetchone()
    res = {"count": row[0], "checksums": {c["name"]: row[i + 1] for i, c in enumerate(cols)}, "partitions": {}}
    key = " || '/' || ".join("'%s=' || %s" % (f, dq(f)) for f in spec["partition_fields"])
    for p, n in con.execute("SELECT %s, count(*) FROM %s %s GROUP BY 1" % (key, source, where)).fetchall():
        res["partitions"][p] = n
    if per_file:
        res["files"] = {f: n for f, n in con.execute(
            "SELECT _hoodie_file_name, count(*) FROM %s %s GROUP BY 1" % (source, where)).fetchall()}
    return res


def extension_file(package, name, version):
    """The extension file pip installed with the package."""
    mod = importlib.import_module(package)
    path = os.path.join(os.path.dirname(mod.__file__), "extensions", "v" + version, name + ".duckdb_extension")
    if not os.path.isfile(path):
        raise RuntimeError("%s: no %s (the extension package must match DuckDB %s)" % (package, path, version))
    return path


def duckdb_engine():
    import duckdb
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                                 "threads": "2"})
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    files = {}
    for pkg, name in (("duckdb_extension_avro", "avro"), ("duckdb_extension_iceberg", "iceberg")):
        files[name] = extension_file(pkg, name, duckdb.__version__)
        con.execute("LOAD '%s'" % files[name].replace("'", "''"))
    loaded = {r[0]: r[1] for r in con.execute(
        "SELECT extension_name, extension_version FROM duckdb_extensions() WHERE loaded").fetchall()}
    info = {"engine": "duckdb-iceberg", "duckdb_version": duckdb.__version__, "extensions": loaded,
            "extension_files": files}

    def check(spec):
        out = {"seconds": {}}
        loc = spec["location"]
        scan = "iceberg_scan('%s')" % loc.replace("'", "''")

        def snapshot():
            out["columns"] = [[r[0], DUCK_KINDS.get(r[1], r[1])] for r in con.execute("DESCRIBE SELECT * FROM " + scan).fetchall()]
            out["snapshot"] = duck_answer(con, scan, spec)

        def partition():
            cond = " AND ".join("%s = %s" % (dq(k), literal(spec, k, v)) for k, v in sorted(spec["partition"].items()))
            out["partition"] = duck_answer(con, scan, spec, "WHERE " + cond, per_file=True)
            # The plan: EXPLAIN ANALYZE's scan node reports the data files
            # it read.
            plan = "\n".join(r[1] for r in con.execute("EXPLAIN ANALYZE SELECT count(*) FROM %s WHERE %s" % (scan, cond)).fetchall())
            out["partition_plan"] = plan
            m = re.search(r"Total Files Read:\s*(\d+)", plan)
            out["partition_files"] = int(m.group(1)) if m else None

        def as_of():
            src = "iceberg_scan('%s', snapshot_from_id = %d)" % (loc.replace("'", "''"), spec["as_of_snapshot"])
            out["as_of"] = duck_answer(con, src, spec)

        def snapshots():
            rows = con.execute("SELECT snapshot_id, sequence_number FROM iceberg_snapshots('%s') ORDER BY sequence_number"
                               % loc.replace("'", "''")).fetchall()
            out["snapshots"] = [{"snapshot_id": r[0]} for r in rows]

        for name, fn in (("snapshot", snapshot), ("partition", partition), ("as_of", as_of), ("snapshots", snapshots)):
            run(out, name, fn)
        return out

    return info, check


# --- pyiceberg ------------------------------------------------------------

def pyiceberg_engine():
    import pyarrow as pa
    import pyiceberg
    from pyiceberg.expressions import And, EqualTo
    from pyiceberg.table import StaticTable
    from hudirs_check import answer, kind_of

    info = {"engine": "pyiceberg", "pyiceberg_version": pyiceberg.__version__, "pyarrow_version": pa.__version__}

    def check(spec):
        out = {"seconds": {}}
        tbl = StaticTable.from_metadata(spec["location"])
        out["metadata_location"] = tbl.metadata_location

        def snapshot():
            at = tbl.scan().to_arrow()
            out["columns"] = [[f.name, kind_of(f.type)] for f in at.schema]
            out["snapshot"] = answer(at, spec)

        def partition():
            kinds = {c["name"]: c["kind"] for c in spec["columns"]}
            preds = [EqualTo(k, int(v) if kinds.get(k) in ("int", "long") else v) for k, v in sorted(spec["partition"].items())]
            expr = preds[0] if len(preds) == 1 else And(*preds)
            scan = tbl.scan(row_filter=expr)
            out["partition_files"] = len(list(scan.plan_files()))
            out["partition"] = answer(scan.to_arrow(), spec, per_file=True)

        def partitions():
            parts = {}
            for r in tbl.inspect.partitions().to_pylist():
                key = "/".join("%s=%s" % (f, r["partition"][f]) for f in spec["partition_fields"])
                parts[key] = {"records": r["record_count"], "files": r["file_count"]}
            out["partitions"] = parts

        def as_of():
            out["as_of"] = answer(tbl.scan(snapshot_id=spec["as_of_snapshot"]).to_arrow(), spec)

        def snapshots():
            snaps = sorted(tbl.metadata.snapshots, key=lambda s: s.sequence_number)
            out["snapshots"] = [{"snapshot_id": s.snapshot_id, "instant": s.summary.get("lakestream.hudi.instant"),
                                 "action": s.summary.get("lakestream.hudi.action"),
                                 "operation": s.summary.operation.value} for s in snaps]
            cur = tbl.current_snapshot()
            out["current"] = cur.snapshot_id if cur else None

        for name, fn in (("snapshot", snapshot), ("partition", partition), ("partitions", partitions),
                         ("as_of", as_of), ("snapshots", snapshots)):
            run(out, name, fn)
        return out

    return info, check


def run(out, name, fn):
    start = time.time()
    try:
        fn()
    except Exception as e:  # every check runs; the failure is reported
        out[name] = {"error": error_text(e)}
        traceback.print_exc(file=sys.stderr)
    out["seconds"][name] = round(time.time() - start, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True, choices=["duckdb", "pyiceberg"])
    ap.add_argument("--specs", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.specs) as f:
        specs = json.load(f)
    started = time.time()
    info, check = duckdb_engine() if args.engine == "duckdb" else pyiceberg_engine()
    result = dict(info, tables={})
    for spec in specs:
        try:
            result["tables"][spec["name"]] = check(spec)
        except Exception as e:  # the table did not open
            result["tables"][spec["name"]] = {"error": error_text(e)}
            traceback.print_exc(file=sys.stderr)
    result["total_seconds"] = round(time.time() - started, 2)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
