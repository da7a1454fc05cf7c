"""Reads lakestream tables with hudi-rs (the `hudi` package); prints JSON.

Run by compat_test.go (make compat):

    python hudirs_check.py --specs specs.json --out result.json

For each table of specs.json (see spark_check.py) this answers:

  slices        the file slices of the latest snapshot (get_file_slices)
  as_of_slices  the file slices as of the time-travel instant
  snapshot      the rows of the snapshot (read): count, the checksum of
                every column, rows per partition, the Arrow schema
  partition     a filter on the partition columns: the slices it keeps
                (partition pruning) and their rows; rows per base file
                are counted by _hoodie_file_name
  as_of         time travel (as_of_timestamp)
  incremental   the rows of the commits after an instant (Incremental)
  commits       the completed commits and replacecommits of the
                timeline, with the records and files of each from its
                metadata
  clustering    the completed replacecommits of the timeline and the
                operationType of each (from its metadata); and what
                get_completed_clustering_commits lists, which is only
                logged: hudi-rs 0.5.0 compares operationType with
                "cluster", and Hudi's Java writers (and lakestream) write
                the enum's name, "CLUSTER", in a version 6 table's JSON

Checksums as in spark_check.py: the md5 of a column's canonical values
('N' for null, else 'V' and the value), sorted and joined by newlines.
"""

import argparse
import hashlib
import json
import sys
import time
import traceback

import pyarrow as pa
import pyarrow.compute as pc

import hudi
from hudi import HudiQueryType, HudiReadOptions, HudiTableBuilder


def kind_of(t):
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_int64(t):
        return "long"
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz is not None else "timestamp (no time zone)"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date32(t):
        return "date"
    return str(t)


def canonical_values(arr, kind):
    if kind == "timestamp":
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz)).cast(pa.int64())
    out = []
    for v in arr.to_pylist():
        if v is None:
            out.append("N")
        elif kind == "binary":
            out.append("V" + v.hex().upper())
        elif kind == "boolean":
            out.append("Vtrue" if v else "Vfalse")
        elif kind == "date":
            out.append("V" + v.isoformat())
        else:
            out.append("V" + str(v))
    return out


def answer(tbl, spec, per_file=False):
    res = {"count": tbl.num_rows, "checksums": {}, "partitions": {}}
    for col in spec["columns"]:
        name = col["name"]
        if name not in tbl.column_names:
            res["checksums"][name] = "column missing"
            continue
        vals = canonical_values(tbl.column(name), col["kind"])
        vals.sort(key=lambda s: s.encode("utf-8"))
        res["checksums"][name] = hashlib.md5("\n".join(vals).encode("utf-8")).hexdigest()
    fields = spec["partition_fields"]
    keys = zip(*[tbl.column(f).to_pylist() for f in fields]) if tbl.num_rows else []
    for k in keys:
        p = "/".join("%s=%s" % (f, v) for f, v in zip(fields, k))
        res["partitions"][p] = res["partitions"].get(p, 0) + 1
    if per_file:
        res["files"] = {}
        for f in tbl.column("_hoodie_file_name").to_pylist():
            res["files"][f] = res["files"].get(f, 0) + 1
    return res


def slices_of(file_slices):
    out = [{"partition": s.partition_path, "file_id": s.file_id, "base_file": s.base_file_name,
            "instant": s.creation_instant_time} for s in file_slices]
    out.sort(key=lambda s: (s["partition"], s["base_file"]))
    return out


def error_text(e):
    return ("%s: %s" % (type(e).__name__, e))[:3000]


def check_table(spec):
    out = {"seconds": {}}

    def run(name, fn):
        start = time.time()
        try:
            fn()
        except Exception as e:  # every check runs; the failure is reported
            out[name] = {"error": error_text(e)}
            traceback.print_exc(file=sys.stderr)
        out["seconds"][name] = round(time.time() - start, 2)

    table = HudiTableBuilder.from_base_uri(spec["path"]).build()

    def to_table(batches):
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches)

    def slices():
        out["slices"] = slices_of(table.get_file_slices())
        out["as_of_slices"] = slices_of(table.get_file_slices(HudiReadOptions().with_as_of_timestamp(spec["as_of"])))

    def snapshot():
        tbl = to_table(table.read())
        out["columns"] = [[f.name, kind_of(f.type)] for f in tbl.schema]
        out["snapshot"] = answer(tbl, spec)

    def partition():
        filters = [(k, "=", v) for k, v in sorted(spec["partition"].items())]
        opts = HudiReadOptions(filters=filters)
        out["partition_slices"] = slices_of(table.get_file_slices(opts))
        out["partition"] = answer(to_table(table.read(opts)), spec, per_file=True)

    def as_of():
        opts = HudiReadOptions().with_as_of_timestamp(spec["as_of"])
        out["as_of"] = answer(to_table(table.read(opts)), spec)

    def incremental():
        opts = HudiReadOptions().with_query_type(HudiQueryType.Incremental).with_start_timestamp(spec["begin"])
        out["incremental"] = answer(to_table(table.read(opts)), spec)

    def commits():
        tl = table.get_timeline()
        cs = []
        seen = set()
        for inst in tl.get_completed_commits() + tl.get_completed_replacecommits():
            if (inst.timestamp, inst.action) in seen:
                continue
            seen.add((inst.timestamp, inst.action))
            meta = json.loads(tl.get_instant_metadata_in_json(inst))
            stats = [s for ss in (meta.get("partitionToWriteStats") or {}).values() for s in ss]
            cs.append({"instant": inst.timestamp, "action": inst.action,
                       "records": sum(s.get("numWrites", 0) for s in stats), "files": len(stats)})
        cs.sort(key=lambda c: c["instant"])
        out["commits"] = cs

    run("slices", slices)
    run("snapshot", snapshot)
    run("partition", partition)
    run("as_of", as_of)
    run("incremental", incremental)
    def clustering():
        tl = table.get_timeline()
        cs = []
        for inst in tl.get_completed_replacecommits():
            meta = json.loads(tl.get_instant_metadata_in_json(inst))
            cs.append({"instant": inst.timestamp, "operation": meta.get("operationType")})
        out["clustering"] = sorted(cs, key=lambda c: c["instant"])
        out["clustering_commits"] = sorted(i.timestamp for i in tl.get_completed_clustering_commits())

    run("commits", commits)
    run("clustering", clustering)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.specs) as f:
        specs = json.load(f)
    started = time.time()
    result = {"engine": "hudi-rs", "hudi_version": getattr(hudi, "__version__", "unknown"),
              "pyarrow_version": pa.__version__, "tables": {}}
    for spec in specs:
        try:
            result["tables"][spec["name"]] = check_table(spec)
        except Exception as e:  # the table did not open
            result["tables"][spec["name"]] = {"error": error_text(e)}
            traceback.print_exc(file=sys.stderr)
    result["total_seconds"] = round(time.time() - started, 2)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
