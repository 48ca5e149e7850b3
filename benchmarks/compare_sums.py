#!/usr/bin/python3
"""Check that per-district results of several tools agree exactly.

usage: compare_sums.py NAME=FILE [NAME=FILE ...]

Each FILE is a CSV or a GeoPackage with one row per district. Columns are
found by name (case-insensitive):
  district  adm_pcode | adm2_pcode
  sum       displaced | individuals | numpoints
  count     records                      (optional)
A second CSV line whose first cell starts with '#' (an HXL tag row) is
skipped. Sums must be whole numbers (QGIS writes its weighted count as a
Real); they are compared as integers, exactly, with no tolerance: every tool
adds the same integer weights, so any difference is a point that went to a
different district (or none), not rounding.

The first file is the reference. Prints one line per disagreeing district
with every tool's value, then a summary; exit status 0 when all agree, 1 when
any district differs, 2 on unreadable input.
"""
import csv
import sqlite3
import sys

DISTRICT = ("adm_pcode", "adm2_pcode")
SUM = ("displaced", "individuals", "numpoints")
COUNT = ("records",)


def pick(header, names, path, required=True):
    low = [h.strip().lower() for h in header]
    for n in names:
        if n in low:
            return low.index(n)
    if required:
        raise ValueError("%s: none of the columns %s in %s" % (path, "/".join(names), header))
    return None


def rows_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        first = True
        for row in reader:
            if first and row and row[0].startswith("#"):
                first = False
                continue
            first = False
            if row:
                yield header, row


def rows_gpkg(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        (table,) = con.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' LIMIT 1"
        ).fetchone()
        cur = con.execute('SELECT * FROM "%s"' % table.replace('"', '""'))
        header = [d[0] for d in cur.description]
        for row in cur:
            yield header, ["" if v is None else str(v) for v in row]
    finally:
        con.close()


def as_int(text, path, what):
    v = float(text) if text.strip() else 0.0
    if not v.is_integer():
        raise ValueError("%s: %s %r is not a whole number" % (path, what, text))
    return int(v)


def load(path):
    """{pcode: (sum, count or None)}"""
    rows = rows_gpkg(path) if path.lower().endswith(".gpkg") else rows_csv(path)
    out = {}
    cols = None
    for header, row in rows:
        if cols is None:
            cols = (
                pick(header, DISTRICT, path),
                pick(header, SUM, path),
                pick(header, COUNT, path, required=False),
            )
        d, s, c = cols
        pcode = row[d].strip()
        if pcode in out:
            raise ValueError("%s: district %s appears twice" % (path, pcode))
        out[pcode] = (
            as_int(row[s], path, "sum"),
            None if c is None else as_int(row[c], path, "count"),
        )
    if not out:
        raise ValueError("%s: no rows" % path)
    return out


def main(argv):
    if len(argv) < 3 or any("=" not in a for a in argv[1:]):
        sys.stderr.write(__doc__)
        return 2
    tools = []
    for arg in argv[1:]:
        name, path = arg.split("=", 1)
        try:
            tools.append((name, load(path)))
        except (OSError, ValueError, sqlite3.Error, StopIteration, TypeError) as e:
            print("compare: cannot read %s (%s): %s" % (name, path, e))
            return 2

    districts = sorted(set().union(*(t.keys() for _, t in tools)))
    have_count = [n for n, t in tools if all(v[1] is not None for v in t.values())]
    bad = 0
    for d in districts:
        sums = [(n, t.get(d, (None, None))[0]) for n, t in tools]
        counts = [(n, t.get(d, (None, None))[1]) for n, t in tools if n in have_count]
        sum_ok = len({v for _, v in sums}) == 1
        count_ok = len({v for _, v in counts}) <= 1
        if sum_ok and count_ok:
            continue
        bad += 1
        ref = sums[0][1]
        parts = []
        for n, v in sums:
            delta = "" if v is None or ref is None or v == ref else " (%+d)" % (v - ref)
            parts.append("%s=%s%s" % (n, "missing" if v is None else v, delta))
        line = "  DIFF %-10s sum: %s" % (d, ", ".join(parts))
        if not count_ok:
            line += "; records: " + ", ".join(
                "%s=%s" % (n, "missing" if v is None else v) for n, v in counts
            )
        print(line)

    totals = ", ".join(
        "%s %d%s"
        % (
            n,
            sum(v[0] for v in t.values()),
            ""
            if n not in have_count
            else " in %d points" % sum(v[1] for v in t.values()),
        )
        for n, t in tools
    )
    names = " / ".join(n for n, _ in tools)
    if bad:
        print("compare: %s DISAGREE in %d of %d districts (totals: %s)" % (names, bad, len(districts), totals))
        return 1
    what = "sums" + (" and counts (%s)" % "/".join(have_count) if len(have_count) > 1 else "")
    print("compare: %s agree exactly on %s in all %d districts (totals: %s)" % (names, what, len(districts), totals))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
