"""Reads lakestream tables with Spark and a Hudi Spark bundle; prints JSON.

Run by compat_test.go (make compat), one SparkSession for every table:

    python spark_check.py --jar hudi-spark3.5-bundle_2.12-0.15.0.jar \
        --specs specs.json --scratch DIR --out result.json

specs.json lists the tables (compat_test.go's spec): path, columns and
their kinds, the partition to filter on, the instant for time travel and
the one to start an incremental query after. For each table this answers,
through spark.read.format("hudi"):

  snapshot     the latest snapshot: row count, the checksum of every
               column, rows per partition, the schema Spark reads
  partition    a filter on the partition columns: the same, plus the base
               files read (input_file_name) and the scan's metrics
               (numFiles, numPartitions): a pruned scan reads only them
  as_of        time travel (as.of.instant)
  incremental  hoodie.datasource.query.type=incremental from an instant
  commits      Spark SQL's call show_commits
  clustering   Spark SQL's call show_clustering (with the partitions):
               the replacecommits whose requested file holds a
               clustering plan Hudi reads (a replacecommit without one
               makes it fail)

A column's checksum is the md5 of its values rendered canonically ('N' for
null, else 'V' and the value; integers in decimal, timestamps in
microseconds since the epoch, bytes in upper-case hex), sorted bytewise
and joined by newlines: DuckDB and hudirs_check.py compute the same.

Every check runs even when another fails; a failure is the engine's error
text in "error". The tables are only read: show_commits needs a table in
the catalog, and Hudi's CREATE TABLE rewrites hoodie.properties, so the
table registered is a copy of the table's .hoodie/ under --scratch.
"""

import argparse
import json
import os
import shutil
import sys
import time
import traceback

KINDS = {"string": "string", "int": "int", "bigint": "long", "timestamp": "timestamp",
         "binary": "binary", "boolean": "boolean", "date": "date"}


def quote(name):
    return "`" + name.replace("`", "``") + "`"


def canonical(col):
    q = quote(col["name"])
    kind = col["kind"]
    if kind == "string":
        v = q
    elif kind in ("int", "long", "boolean"):
        v = "cast(%s as string)" % q
    elif kind == "timestamp":
        v = "cast(unix_micros(%s) as string)" % q
    elif kind == "binary":
        v = "hex(%s)" % q
    elif kind == "date":
        v = "date_format(%s, 'yyyy-MM-dd')" % q
    else:
        raise ValueError("no canonical form for kind %r" % kind)
    return "CASE WHEN %s IS NULL THEN 'N' ELSE concat('V', %s) END" % (q, v)


def partition_key(fields):
    parts = ["concat('%s=', %s)" % (f, quote(f)) for f in fields]
    return "concat_ws('/', %s)" % ", ".join(parts)


def answer(df, spec, per_file=False):
    """Count, checksums and rows per partition of df (and rows per file)."""
    from pyspark.sql import functions as F
    cols = spec["columns"]
    exprs = ["count(1) AS n"] + [
        "md5(concat_ws(chr(10), array_sort(collect_list(%s)))) AS c%d" % (canonical(c), i)
        for i, c in enumerate(cols)]
    row = df.selectExpr(*exprs).collect()[0]
    res = {"count": row["n"], "checksums": {c["name"]: row["c%d" % i] for i, c in enumerate(cols)},
           "partitions": {}}
    for r in df.selectExpr(partition_key(spec["partition_fields"]) + " AS p").groupBy("p").count().collect():
        res["partitions"][r["p"]] = r["count"]
    scan = None
    if per_file:
        q = df.select(F.input_file_name().alias("f")).groupBy("f").count()
        res["files"] = {os.path.basename(r["f"]): r["count"] for r in q.collect()}
        scan = scan_metrics(q._jdf.queryExecution().executedPlan())
    return res, scan


def scan_metrics(plan):
    """The metrics of the file scans in an executed plan."""
    out = []

    def walk(p):
        if "Scan" in p.nodeName():
            m = {}
            it = p.metrics().iterator()
            while it.hasNext():
                kv = it.next()
                m[kv._1()] = kv._2().value()
            out.append({"node": p.nodeName(), "numFiles": m.get("numFiles"), "numPartitions": m.get("numPartitions")})
        children = p.children()
        for i in range(children.size()):
            walk(children.apply(i))

    walk(plan)
    return out


def error_text(e):
    s = str(e).strip()
    # The first lines say what went wrong; the JVM stack follows.
    lines = [l for l in s.splitlines() if not l.strip().startswith("at ")]
    return "\n".join(lines[:12])[:3000]


def check_table(spark, spec, scratch):
    out = {"seconds": {}}
    path = spec["path"]

    def run(name, fn):
        start = time.time()
        try:
            fn()
        except Exception as e:  # every check runs; the failure is reported
            out[name] = {"error": error_text(e)}
            traceback.print_exc(file=sys.stderr)
        out["seconds"][name] = round(time.time() - start, 2)

    def snapshot():
        df = spark.read.format("hudi").load(path)
        out["columns"] = [[n, KINDS.get(t, t)] for n, t in df.dtypes]
        out["snapshot"], _ = answer(df, spec)

    def partition():
        df = spark.read.format("hudi").load(path)
        cond = " AND ".join("%s = '%s'" % (quote(k), v) for k, v in sorted(spec["partition"].items()))
        out["partition"], out["partition_scan"] = answer(df.where(cond), spec, per_file=True)

    def as_of():
        df = spark.read.format("hudi").option("as.of.instant", spec["as_of"]).load(path)
        out["as_of"], _ = answer(df, spec)

    def incremental():
        df = (spark.read.format("hudi")
              .option("hoodie.datasource.query.type", "incremental")
              .option("hoodie.datasource.read.begin.instanttime", spec["begin"])
              .load(path))
        out["incremental"], _ = answer(df, spec)

    def commits():
        copy = os.path.join(scratch, spec["name"])
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(os.path.join(path, ".hoodie"), os.path.join(copy, ".hoodie"))
        name = "compat_" + spec["name"]
        spark.sql("DROP TABLE IF EXISTS %s" % name)
        spark.sql("CREATE TABLE %s USING hudi LOCATION '%s'" % (name, copy))
        rows = spark.sql("call show_commits(table => '%s', limit => 100000)" % name).collect()
        out["commits"] = [{"instant": r["commit_time"], "action": r["action"],
                           "records": r["total_records_written"],
                           "files": r["total_files_added"] + r["total_files_updated"]} for r in rows]
        out["commits"].sort(key=lambda c: c["instant"])

    def clustering():
        rows = spark.sql("call show_clustering(path => '%s', limit => 100000, show_involved_partition => true)" % path).collect()
        out["clustering"] = [{"instant": r["timestamp"], "groups": r["input_group_size"], "state": r["state"],
                              "partitions": r["involved_partitions"]} for r in rows]
        out["clustering"].sort(key=lambda c: c["instant"])

    run("snapshot", snapshot)
    run("partition", partition)
    run("as_of", as_of)
    run("incremental", incremental)
    run("commits", commits)
    run("clustering", clustering)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jar", required=True)
    ap.add_argument("--specs", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.specs) as f:
        specs = json.load(f)
    os.makedirs(args.scratch, exist_ok=True)

    started = time.time()
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("lakestream-compat")
             .config("spark.jars", args.jar)
             .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
             .config("spark.sql.extensions", "org.apache.spark.sql.hudi.HoodieSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.hudi.catalog.HoodieCatalog")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "1g")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.adaptive.enabled", "false")
             .config("spark.sql.warehouse.dir", os.path.join(args.scratch, "warehouse"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    result = {"engine": "spark", "spark_version": spark.version, "jar": os.path.basename(args.jar),
              "session_seconds": round(time.time() - started, 2), "tables": {}}
    for spec in specs:
        result["tables"][spec["name"]] = check_table(spark, spec, args.scratch)
    spark.stop()
    result["total_seconds"] = round(time.time() - started, 2)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
