"""Reads lakestream's Iceberg tables with Spark and the Iceberg Spark runtime.

Run by iceberg_test.go (make compat), one SparkSession for every table:

    python spark_iceberg_check.py --jar iceberg-spark-runtime-3.5_2.12-1.10.2.jar \
        --specs iceberg-specs.json --out result.json

For each table of iceberg-specs.json (iceberg_tables_test.go's
icebergSpec) this answers, through spark.read.format("iceberg").load(root)
(Iceberg's HadoopTables: metadata/version-hint.text, then
v<N>.metadata.json):

  snapshot     the current snapshot: row count, the checksum of every
               column (spark_check.py's), rows per partition, the schema
  partition    a filter on the partition columns: the same, rows per data
               file (input_file_name) and the batch scan's resultDataFiles
               metric: the data files Iceberg planned after pruning
  partitions   the #partitions metadata table: rows and data files per
               partition
  as_of        time travel: option snapshot-id
  snapshots    the #snapshots metadata table: IDs, operation, the
               summary's lakestream.hudi.instant and lakestream.hudi.action

The tables are only read: no catalog, no session extension.
"""

import argparse
import json
import os
import sys
import time
import traceback

from spark_check import KINDS, answer, error_text, quote


def scan_files(plan):
    """resultDataFiles of the Iceberg batch scans of an executed plan."""
    found = []

    def walk(p):
        if "BatchScan" in p.nodeName():
            it = p.metrics().iterator()
            while it.hasNext():
                kv = it.next()
                if kv._1() == "resultDataFiles":
                    found.append(int(kv._2().value()))
        children = p.children()
        for i in range(children.size()):
            walk(children.apply(i))

    walk(plan)
    return found


def literal(spec, field, value):
    kind = {c["name"]: c["kind"] for c in spec["columns"]}.get(field, "string")
    if kind in ("int", "long"):
        return str(int(value))
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")


def check_table(spark, spec):
    out = {"seconds": {}}
    root = spec["path"]

    def run(name, fn):
        start = time.time()
        try:
            fn()
        except Exception as e:  # every check runs; the failure is reported
            out[name] = {"error": error_text(e)}
            traceback.print_exc(file=sys.stderr)
        out["seconds"][name] = round(time.time() - start, 2)

    def snapshot():
        df = spark.read.format("iceberg").load(root)
        out["columns"] = [[n, KINDS.get(t, t)] for n, t in df.dtypes]
        out["snapshot"], _ = answer(df, spec)

    def partition():
        from pyspark.sql import functions as F
        df = spark.read.format("iceberg").load(root)
        cond = " AND ".join("%s = %s" % (quote(k), literal(spec, k, v)) for k, v in sorted(spec["partition"].items()))
        res, _ = answer(df.where(cond), spec, per_file=True)
        out["partition"] = res
        # The data files the scan planned: the resultDataFiles metric of
        # the batch scan, once the query ran. (Not on a count: Iceberg
        # answers that from the manifests, with no batch scan.)
        q = df.where(cond).select(F.input_file_name().alias("f")).groupBy("f").count()
        q.collect()
        files = scan_files(q._jdf.queryExecution().executedPlan())
        out["partition_plan"] = "resultDataFiles per batch scan: %s" % files
        out["partition_files"] = files[0] if len(files) == 1 else None

    def partitions():
        parts = {}
        for r in spark.read.format("iceberg").load(root + "#partitions").collect():
            key = "/".join("%s=%s" % (f, r["partition"][f]) for f in spec["partition_fields"])
            parts[key] = {"records": r["record_count"], "files": r["file_count"]}
        out["partitions"] = parts

    def as_of():
        df = spark.read.format("iceberg").option("snapshot-id", str(spec["as_of_snapshot"])).load(root)
        out["as_of"], _ = answer(df, spec)

    def snapshots():
        rows = (spark.read.format("iceberg").load(root + "#snapshots")
                .orderBy("committed_at").collect())
        out["snapshots"] = [{"snapshot_id": r["snapshot_id"], "instant": (r["summary"] or {}).get("lakestream.hudi.instant"),
                             "action": (r["summary"] or {}).get("lakestream.hudi.action"),
                             "operation": r["operation"]} for r in rows]
        hist = spark.read.format("iceberg").load(root + "#history").where("is_current_ancestor").orderBy("made_current_at").collect()
        out["current"] = hist[-1]["snapshot_id"] if hist else None

    run("snapshot", snapshot)
    run("partition", partition)
    run("partitions", partitions)
    run("as_of", as_of)
    run("snapshots", snapshots)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jar", required=True)
    ap.add_argument("--specs", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.specs) as f:
        specs = json.load(f)

    started = time.time()
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("lakestream-compat-iceberg")
             .config("spark.jars", args.jar)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "1g")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.adaptive.enabled", "false")
             .config("spark.sql.warehouse.dir", os.path.join(os.getcwd(), "warehouse"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark.sparkContext._jvm
    iceberg_version = jvm.org.apache.iceberg.IcebergBuild.version()
    result = {"engine": "spark+iceberg", "spark_version": spark.version, "iceberg_version": iceberg_version,
              "jar": os.path.basename(args.jar), "session_seconds": round(time.time() - started, 2), "tables": {}}
    for spec in specs:
        result["tables"][spec["name"]] = check_table(spark, spec)
    spark.stop()
    result["total_seconds"] = round(time.time() - started, 2)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
