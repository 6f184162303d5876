#!/usr/bin/env python3
"""The reference the pipeline benchmark measures redscribe against: the metadata path written the way such
Lambdas usually are. For every recording: a boto3 GetObject, the WAV header read with the standard library, one
JSON document PUT per recording, and one Redshift Data API COPY per file, polled with DescribeStatement until it
ends. Recordings are handled by a pool of worker threads (one set of clients each), as concurrent Lambda
invocations would.

It reads its endpoints and credentials from the usual AWS configuration (profile or environment), so it runs
unchanged against AWS or against `redscribe serve`.
"""

import argparse
import concurrent.futures
import datetime
import io
import json
import threading
import time
import wave

import boto3

TABLE = "reference_results"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id VARCHAR(64), object_key VARCHAR(1024), duration_s DOUBLE PRECISION, "
    "sample_rate INTEGER, channels INTEGER, processed_at TIMESTAMP)"
)

local = threading.local()


def clients():
    if not hasattr(local, "s3"):
        session = boto3.session.Session()
        local.s3 = session.client("s3")
        local.data = session.client("redshift-data")
    return local.s3, local.data


def run_sql(data, args, sql):
    statement = data.execute_statement(WorkgroupName=args.workgroup, Database=args.database, Sql=sql)["Id"]
    while True:
        described = data.describe_statement(Id=statement)
        if described["Status"] == "FINISHED":
            return
        if described["Status"] in ("FAILED", "ABORTED"):
            raise RuntimeError(f"{sql[:80]}: {described.get('Error')}")
        time.sleep(args.poll)


def handle(args, key):
    s3, data = clients()
    body = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
    with wave.open(io.BytesIO(body)) as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
    document = {
        "id": key.replace("/", "-")[-64:],
        "object_key": key,
        "duration_s": frames / rate,
        "sample_rate": rate,
        "channels": channels,
        "processed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = f"{args.output_prefix}{key}.json"
    s3.put_object(Bucket=args.bucket, Key=out, Body=json.dumps(document).encode(), ContentType="application/json")
    run_sql(data, args, f"COPY {TABLE} FROM 's3://{args.bucket}/{out}' IAM_ROLE '{args.role}' FORMAT AS JSON 'auto'")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--output-prefix", default="reference/")
    parser.add_argument("--workgroup", default="local")
    parser.add_argument("--database", default="dev")
    parser.add_argument("--role", default="arn:aws:iam::000000000000:role/reference")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between DescribeStatement calls")
    args = parser.parse_args()

    s3, data = clients()
    run_sql(data, args, DDL)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=args.prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        for future in concurrent.futures.as_completed([pool.submit(handle, args, k) for k in keys]):
            if future.exception() is not None:
                failed += 1
                print(f"reference: {future.exception()}")
    print(json.dumps({"recordings": len(keys), "failed": failed}))


if __name__ == "__main__":
    main()
