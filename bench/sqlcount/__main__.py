"""The busiest process's counts of ``bench/sqlcount``: statements and transactions by caller."""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--most", type=int, default=30)
    args = ap.parse_args()
    texts = {path: path.read_text().splitlines() for path in args.files}
    # The first line: "transactions N statements M"; the busiest process ran the most statements.
    busiest = max(texts, key=lambda path: int(texts[path][0].split()[3]) if texts[path] else 0)
    lines = texts[busiest]
    print(f"{busiest}: {lines[0]}")
    for kind, title in (("T", "transactions by caller"), ("S", "statements by text and caller")):
        print(f"== {title}")
        rows = [line.split("\t") for line in lines[1:] if line.startswith(kind + "\t")]
        for row in rows[: args.most]:
            print("  ".join([row[1].rjust(6), *row[2:]]))


if __name__ == "__main__":
    main()
