#!/usr/bin/python3
"""GeoPandas peer of `dispflow join` for the benchmark.

usage: peer_geopandas.py POINTS.csv BOUNDARIES OUT.csv

Reads the points CSV (id,lon,lat,individuals) with pandas, makes point
geometries, spatially joins them to the boundary polygons with
predicate='within', sums individuals and counts points per ADM2_PCODE, and
writes ADM2_PCODE,individuals,records (every district, 0 where empty).
'within' drops a point lying exactly on a polygon's boundary (it is not in
the interior of either neighbour); 'intersects' would count it in both.

Run with Debian's /usr/bin/python3 (python3-geopandas), the way a GIS analyst
would write it: no tricks, the library's defaults.
"""
import sys

import geopandas as gpd
import pandas as pd


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    points_path, boundaries_path, out_path = argv[1:]
    df = pd.read_csv(points_path)
    points = gpd.GeoDataFrame(
        df[["individuals"]], geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326"
    )
    polygons = gpd.read_file(boundaries_path)[["ADM2_PCODE", "geometry"]]
    if polygons.crs is not None and polygons.crs != points.crs:
        polygons = polygons.to_crs(points.crs)
    joined = gpd.sjoin(points, polygons, how="inner", predicate="within")
    sums = joined.groupby("ADM2_PCODE").agg(
        individuals=("individuals", "sum"), records=("individuals", "size")
    )
    # Every district, with 0 where no point fell, like the other tools.
    sums = sums.reindex(sorted(polygons["ADM2_PCODE"]), fill_value=0)
    sums.index.name = "ADM2_PCODE"
    sums.to_csv(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
