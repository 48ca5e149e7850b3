#!/usr/bin/python3
"""Check GeoJSON files against RFC 7946 (issue 17 item 31), with the json
module only, independent of GDAL:

- no "crs" member anywhere (section 4: the CRS is WGS84 lon/lat);
- every position is [lon, lat] with -180 <= lon <= 180, -90 <= lat <= 90,
  at most 7 decimals (about 1 cm, GDAL's RFC7946 default; section 11.2);
- every linear ring is closed, with 4 or more positions; exteriors are
  counter-clockwise and holes clockwise (section 3.1.6), by the shoelace
  formula on lon/lat;
- a "bbox", where present, is [west, south, east, north] of the positions
  it covers (section 5), to 1e-7 degrees.

Prints one line per file ("FILE: N features, N rings, max D decimals, bbox
K") and one per problem; exits 1 when there is a problem.
"""
import json
import sys

problems = []


def decimals(text):
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text and "e" not in text.lower() else 0


def positions(coords, depth):
    """The positions of a coordinates array of the given nesting depth."""
    if depth == 0:
        yield coords
    else:
        for c in coords:
            yield from positions(c, depth - 1)


DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def signed_area(ring):
    return 0.5 * sum(float(ring[k][0]) * float(ring[k + 1][1]) - float(ring[k + 1][0]) * float(ring[k][1])
                     for k in range(len(ring) - 1))


def check_bbox(where, obj, pts):
    if "bbox" not in obj:
        return 0
    if not pts:
        problems.append(f"{where}: a bbox without positions")
        return 1
    want = [min(float(p[0]) for p in pts), min(float(p[1]) for p in pts),
            max(float(p[0]) for p in pts), max(float(p[1]) for p in pts)]
    got = [float(v) for v in obj["bbox"]]
    if len(got) != 4 or any(abs(a - b) > 1e-7 for a, b in zip(got, want)):
        problems.append(f"{where}: bbox {got} but the positions span {want}")
    return 1


def check_file(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f, parse_float=str)  # keep the numbers' text for the decimals
    where = path
    nfeat = nrings = maxdec = nbbox = 0
    allpts = []

    def no_crs(obj, at):
        if isinstance(obj, dict):
            if "crs" in obj:
                problems.append(f"{at}: a crs member")
            for k, v in obj.items():
                if k != "properties":
                    no_crs(v, at)
        elif isinstance(obj, list):
            for v in obj:
                no_crs(v, at)

    no_crs(doc, where)
    if doc.get("type") != "FeatureCollection":
        problems.append(f"{where}: not a FeatureCollection")
        return
    for i, feat in enumerate(doc["features"]):
        nfeat += 1
        fw = f"{where}: feature {i + 1}"
        g = feat.get("geometry")
        pts = []
        if g is not None:
            t = g["type"]
            for p in positions(g["coordinates"], DEPTH[t]):
                if len(p) != 2:
                    problems.append(f"{fw}: a position of {len(p)} numbers")
                    continue
                lon, lat = float(p[0]), float(p[1])
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    problems.append(f"{fw}: position {lon} {lat} is not lon/lat")
                maxdec = max(maxdec, decimals(str(p[0])), decimals(str(p[1])))
                pts.append(p)
            polys = [g["coordinates"]] if t == "Polygon" else g["coordinates"] if t == "MultiPolygon" else []
            for poly in polys:
                for r, ring in enumerate(poly):
                    nrings += 1
                    if len(ring) < 4 or ring[0] != ring[-1]:
                        problems.append(f"{fw}: ring {r} is not closed or has under 4 positions")
                    a = signed_area(ring)
                    if (r == 0 and a <= 0) or (r > 0 and a >= 0):
                        problems.append(f"{fw}: ring {r} ({'exterior' if r == 0 else 'hole'}) is "
                                        f"{'clockwise' if a < 0 else 'counter-clockwise'} (shoelace {a:.6g})")
            nbbox += check_bbox(fw, g, pts)
        nbbox += check_bbox(fw, feat, pts)
        allpts += pts
    nbbox += check_bbox(where, doc, allpts)
    if maxdec > 7:
        problems.append(f"{where}: coordinates with {maxdec} decimals (RFC 7946 section 11.2: 7 are about 1 cm)")
    print(f"{path}: {nfeat} features, {nrings} rings, max {maxdec} decimals, bbox {nbbox}")


for p in sys.argv[1:]:
    check_file(p)
for p in problems[:20]:
    print("problem:", p)
sys.exit(1 if problems else 0)
