#!/usr/bin/env python3
"""Checks the shard directories of a job array against the experiment's grid.

Usage: check_shards.py --sweep BIN --reference DIR --expect SHARD_DIR=IDS_FILE [--expect ...]

Each IDS_FILE lists the run ids that shard must hold (`sweep --list-runs --shard I/N`).
Passes when every shard holds exactly its runs, once each, so the union is the whole grid
with no run missing or twice, and every recorded result equals the reference directory's
(a single-machine sweep of the same experiment) bit for bit: floats are compared as the
binary64 values their JSON text denotes. Only what depends on the machine or the clock is
left out of the comparison: the machine id, and the timing fields the sweep binary declares
(`sweep --timing-fields`).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path


def machine_fields(sweep):
    """The machine id and the record's timing fields, as the sweep binary lists them."""
    listed = subprocess.run([sweep, "--timing-fields"], check=True, capture_output=True, text=True)
    fields = {line.strip() for line in listed.stdout.splitlines() if line.strip()}
    if not fields:
        sys.exit(f"error: {sweep} --timing-fields listed no fields")
    return {"machine_id"} | fields


def read_runs(directory):
    path = Path(directory) / "runs.jsonl"
    if not path.is_file():
        sys.exit(f"error: {path} missing")
    records = []
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                sys.exit(f"error: {path}:{number}: not a JSON record ({error})")
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", required=True, help="the sweep binary (it declares the timing fields)")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--expect", action="append", required=True, metavar="SHARD_DIR=IDS_FILE")
    args = parser.parse_args()

    ignored = machine_fields(args.sweep)
    reference = {r["run_id"]: r for r in read_runs(args.reference)}
    problems = []
    seen = {}
    grid = set()
    for pair in args.expect:
        shard_dir, _, ids_file = pair.partition("=")
        expected = [line.strip() for line in Path(ids_file).read_text().splitlines() if line.strip()]
        grid.update(expected)
        ids = []
        for record in read_runs(shard_dir):
            run_id = record["run_id"]
            ids.append(run_id)
            if run_id in seen:
                problems.append(f"{run_id} recorded twice ({seen[run_id]} and {shard_dir})")
            seen[run_id] = shard_dir
            other = reference.get(run_id)
            if other is None:
                problems.append(f"{run_id} in {shard_dir} but not in the single-machine sweep")
                continue
            for field in sorted((set(record) | set(other)) - ignored):
                if record.get(field) != other.get(field):
                    problems.append(f"{run_id}: {field} differs from the single-machine sweep")
        missing = sorted(set(expected) - set(ids))
        stray = sorted(set(ids) - set(expected))
        if missing:
            problems.append(f"{shard_dir}: {len(missing)} run(s) missing, e.g. {missing[0]}")
        if stray:
            problems.append(f"{shard_dir}: {len(stray)} run(s) of another shard, e.g. {stray[0]}")
        print(f"  {shard_dir}: {len(ids)} runs (expected {len(expected)})")

    if set(reference) != grid:
        problems.append(f"the single-machine sweep has {len(reference)} runs, the grid {len(grid)}")
    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(
        f"coverage: {len(seen)}/{len(grid)} runs of the grid in {len(args.expect)} shards, none twice; "
        f"results bit-identical to the single-machine sweep"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
