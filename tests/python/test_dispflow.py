"""The Python module against the CLI and the truth (issue 15 item 3).

usage: /usr/bin/python3 tests/python/test_dispflow.py BUILD/dispflow
(PYTHONPATH=BUILD/python; from the repository root; tests/test_python.c runs it)

Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
"""
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import dispflow
import pandas as pd

CLI = sys.argv[1] if len(sys.argv) > 1 else "build/dispflow"
DATA = "../shared/data"
RECORDS = DATA + "/synthetic_et_mosul/records.csv"
ADM2 = DATA + "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
TMP = tempfile.mkdtemp(prefix="dispflow-py-")


class Skip(Exception):
    pass


def need(*paths):
    for p in paths:
        if not os.access(p, os.R_OK):
            raise Skip("%s is absent" % p)


def cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, "dispflow %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr)
    return r


def same(a, b, what):
    """Equal cell by cell: integers and text exactly, reals to the CSV's
    three decimals, empty equal to empty."""
    assert list(a.columns) == list(b.columns), "%s: columns %s != %s" % (what, list(a.columns), list(b.columns))
    assert len(a) == len(b), "%s: %d rows != %d" % (what, len(a), len(b))
    for col in a.columns:
        for i, (x, y) in enumerate(zip(a[col], b[col])):
            ex = x is None or (isinstance(x, float) and math.isnan(x)) or x == ""
            ey = y is None or (isinstance(y, float) and math.isnan(y)) or y == ""
            if ex or ey:
                assert ex and ey, "%s: %s row %d: %r != %r" % (what, col, i, x, y)
            elif isinstance(x, float) or isinstance(y, float):
                assert abs(float(x) - float(y)) <= 0.0005 + 1e-9 * abs(float(x)), \
                    "%s: %s row %d: %r != %r" % (what, col, i, x, y)
            else:
                assert str(x) == str(y), "%s: %s row %d: %r != %r" % (what, col, i, x, y)


def table(gdf):
    """A join's GeoDataFrame as the CLI's CSV reads: no geometry, dates as text."""
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    for col in df.columns:
        if str(df[col].dtype).startswith("datetime"):
            df[col] = df[col].dt.strftime("%Y-%m-%d")
    return df.sort_values("adm_pcode").reset_index(drop=True)


def read_cli_csv(path):
    """The CLI's CSV without its HXL tag row."""
    return pd.read_csv(path, skiprows=[1], keep_default_na=False, na_values=[""]).sort_values(
        "adm_pcode").reset_index(drop=True)


def test_mosul_truth_equals_cli_csv():
    need(RECORDS, ADM2)
    out = os.path.join(TMP, "cli.csv")
    cli("join", "-q", "--records", RECORDS, "--boundaries", ADM2, "--as-of", "2017-05-02", "-o", out)
    gdf = dispflow.join(RECORDS, ADM2, level="adm2", as_of="2017-05-02")
    assert len(gdf) == 101 and gdf.crs is not None and gdf.geometry.notna().all()
    same(table(gdf), read_cli_csv(out), "python join vs dispflow join CSV")
    # the headline figures of truth_totals.csv
    truth = pd.read_csv(DATA + "/synthetic_et_mosul/truth_totals.csv")
    want = {(r.measure, r.as_of): r.individuals for r in truth.itertuples()}
    assert gdf["displaced"].sum() == want[("displaced_cumulative", "2017-05-02")], gdf["displaced"].sum()
    assert gdf["still_displaced"].sum() == want[("still_displaced", "2017-05-02")], gdf["still_displaced"].sum()
    bal = gdf.attrs["balance"]
    assert bal["matched"] + bal["unmatched"] + bal["out_of_period"] + bal["other_level"] + bal["filtered"] + \
        bal["read"]["rejected"] == bal["read"]["rows"], bal
    # returned by 27 Apr 2017, from a second join
    early = dispflow.join(RECORDS, ADM2, as_of="2017-04-27")
    assert early["returned"].sum() == want[("returned_cumulative", "2017-04-27")], early["returned"].sum()
    assert early["displaced"].sum() == want[("displaced_cumulative", "2017-04-27")], early["displaced"].sum()


def test_dataframe_input_equals_file_input():
    need(RECORDS, ADM2)
    from_file = table(dispflow.join(RECORDS, ADM2, as_of="2017-05-02"))
    df = pd.read_csv(RECORDS, dtype=str, keep_default_na=False)
    same(table(dispflow.join(df, ADM2, as_of="2017-05-02")), from_file, "DataFrame input vs file input")
    same(table(dispflow.join(df.to_dict("records"), ADM2, as_of="2017-05-02")), from_file,
         "iterable of dicts vs file input")


def test_bad_input_raises_the_right_error():
    need(ADM2)
    missing = os.path.join(TMP, "no-such.csv")
    try:
        dispflow.join(missing, ADM2)
        raise AssertionError("no error for a missing file")
    except dispflow.EIO as e:
        assert e.name == "EIO" and e.status == dispflow.EIO.status and isinstance(e, dispflow.Error), e
        assert "no-such.csv" in str(e), str(e)
    nocount = os.path.join(TMP, "nocount.csv")
    with open(nocount, "w") as f:
        f.write("Date,District,Colour\n2016-11-01,Mosul,blue\n")
    try:
        dispflow.join(nocount, ADM2)
        raise AssertionError("no error for a table without counts")
    except dispflow.ESCHEMA as e:
        assert "nocount.csv" in e.message, e.message
    for bad, exc in ((dict(level="adm9"), dispflow.EINVAL), (dict(as_of="2017-13-45"), dispflow.EINVAL),
                     (dict(kind="sometimes"), dispflow.EINVAL)):
        try:
            dispflow.join(nocount, ADM2, **bad)
            raise AssertionError("no error for %s" % bad)
        except exc:
            pass
    try:
        dispflow.join(nocount, ADM2, colour="blue")
        raise AssertionError("no error for an unknown option")
    except TypeError as e:
        assert "colour" in str(e)


def test_semicolon_delimiter_and_options():
    need(ADM2)
    path = os.path.join(TMP, "semi.csv")
    with open(path, "w") as f:
        f.write("Date;District;Governorate;Families;Individuals\n2016-11-01;Mosul;Ninewa;2;12\n"
                "2016-11-02;Makhmur;Erbil;1;6\n")
    gdf = dispflow.join(path, ADM2, delimiter="semicolon")
    assert gdf["displaced"].sum() == 18, gdf["displaced"].sum()
    assert gdf.attrs["balance"]["matched"] == 2


def test_flows_equal_cli_matrix():
    need(RECORDS, ADM2)
    out = os.path.join(TMP, "od.csv")
    cli("flows", "-q", "--records", RECORDS, "--boundaries", ADM2, "--step", "month", "--matrix", out)
    matrix, lines = dispflow.flows(RECORDS, ADM2, step="month")
    cli_matrix = pd.read_csv(out, keep_default_na=False, na_values=[""])
    same(matrix, cli_matrix, "python flows vs dispflow flows --matrix")
    assert len(lines) == len(matrix) and (lines.geom_type == "LineString").all()
    # every individual of a placed row is in one flow: the truth's OD total
    truth = pd.read_csv(DATA + "/synthetic_et_mosul/truth_od_adm2.csv")
    assert matrix["individuals"].sum() == truth["individuals"].sum(), (matrix["individuals"].sum(),
                                                                       truth["individuals"].sum())


def test_density_equals_cli_raster():
    need(RECORDS, ADM2)
    from osgeo import gdal
    import numpy as np
    out = os.path.join(TMP, "d.tif")
    cli("density", "-q", "--records", RECORDS, "--boundaries", ADM2, "--pixel", "5000", "--radius", "30000",
        "--mask", "-o", out)
    d = dispflow.density(RECORDS, ADM2, pixel=5000, radius=30000, mask=True)
    ds = gdal.Open(out)
    band = ds.GetRasterBand(1)
    arr = band.ReadAsArray()
    arr[arr == band.GetNoDataValue()] = np.nan
    assert d.values.shape == arr.shape and d.values.dtype == np.float32, (d.values.shape, arr.shape)
    assert np.array_equal(np.isnan(d.values), np.isnan(arr))
    assert np.nanmax(np.abs(d.values - arr)) == 0, np.nanmax(np.abs(d.values - arr))
    assert d.geotransform == ds.GetGeoTransform(), (d.geotransform, ds.GetGeoTransform())
    assert d.crs == "EPSG:32638", d.crs
    # the people on the grid, the edge and the mask add up to the weight, to
    # the error of sampling the kernel at pixel centres (R = 6 pixels: ~1e-4)
    i = d.info
    assert abs(i["grid_weight"] + i["edge_loss"] + i["mask_loss"] - i["total_weight"]) < 1e-3 * i["total_weight"], \
        (i["grid_weight"], i["edge_loss"], i["mask_loss"], i["total_weight"])


def test_check_decisions():
    need(RECORDS, ADM2)
    d = dispflow.check(RECORDS, ADM2)
    assert list(d.columns) == ["level", "name", "parent", "how", "pcode", "unit", "score", "ambiguous",
                               "candidates", "rows"]
    assert set(d["how"]) <= {"name", "alt-name", "alias", "skeleton", "fuzzy", "unmatched"}, set(d["how"])
    # the line with an unknown district (defects.csv: 3583) is unmatched, nothing else at adm2
    unmatched = d[(d["how"] == "unmatched") & (d["level"] == 2)]
    assert unmatched["rows"].sum() == 1, unmatched
    matched = d[d["how"] != "unmatched"]
    assert (matched["pcode"].str.len() > 0).all() and (matched["score"] > 0).all()
    assert "Mosul" in set(d["name"]), sorted(set(d["name"]))[:20]


def test_progress_and_cancel():
    need(RECORDS, ADM2)
    seen = []
    dispflow.density(RECORDS, ADM2, pixel=5000, radius=30000, progress=lambda f, stage: seen.append((f, stage)))
    fractions = [f for f, _ in seen]
    # how often the bands report depends on the threads: at least the read and the end
    assert len(seen) >= 2 and fractions == sorted(fractions) and fractions[-1] == 1 and fractions[0] >= 0, seen
    assert {"reading records", "density"} <= {stage for _, stage in seen}, seen
    # False from the callback cancels (here once the density begins: at the
    # latest its last report, which the library checks before finishing)
    try:
        dispflow.density(RECORDS, ADM2, pixel=5000, radius=30000, progress=lambda f, stage: stage != "density")
        raise AssertionError("not cancelled")
    except dispflow.ECANCELLED:
        pass

    class Stop(Exception):
        pass

    def boom(f, stage):
        raise Stop()
    try:
        dispflow.density(RECORDS, ADM2, pixel=5000, radius=30000, progress=boom)
        raise AssertionError("the callback's exception was lost")
    except Stop:
        pass


def test_gil_released_during_a_join():
    need(RECORDS, ADM2)
    done = []
    t = threading.Thread(target=lambda: done.append(dispflow.flows(RECORDS, ADM2, step="day")))
    spins = 0
    start = time.monotonic()
    t.start()
    while t.is_alive():
        spins += 1
    t.join()
    elapsed = time.monotonic() - start
    # with the GIL held by the call, this loop would stand still for its length
    assert done and spins > 100000 * elapsed, (spins, elapsed)


def test_run_job_errors():
    job = os.path.join(TMP, "bad.ini")
    with open(job, "w") as f:
        f.write("[job]\noutput = out\n[records]\npath = nothere.csv\n")
    try:
        dispflow.run(job)
        raise AssertionError("no error for a job without its records")
    except dispflow.Error as e:
        assert "bad.ini" in e.message or "nothere.csv" in e.message, e.message


def main():
    names = [n for n in sorted(globals()) if n.startswith("test_")]
    for name in names:
        short = name[len("test_"):]
        try:
            globals()[name]()
            print("ok %s" % short)
        except Skip as e:
            print("skip %s: %s" % (short, e))
        except Exception as e:
            print("FAIL %s: %s" % (short, "".join(traceback.format_exception_only(type(e), e)).strip()))
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
