"""dispflow from Python: displacement counts joined to admin boundaries, flows
and density, returning pandas and GeoPandas objects (docs/python.md).

The module calls libdispflow.so.0 through cffi in ABI mode: no compiler and
no Python headers are needed where it runs, only the shared library, whose
declarations come from include/dispflow.h (python/gen_cdef.py). cffi releases
the GIL during every call into the library, so a long join does not stop the
other Python threads.

    import dispflow
    units = dispflow.join("records.csv", "adm2.shp", as_of="2017-05-02")
"""
import datetime as _dt
import logging as _logging
import os as _os
import shutil as _shutil
import tempfile as _tempfile
from collections import namedtuple as _namedtuple

from cffi import FFI as _FFI

from ._cdef import CDEF as _CDEF
from ._cdef import DEFINES as _DEFINES

__all__ = ["join", "flows", "density", "run", "check", "version", "shapes_dir", "Error", "Density"]

_ffi = _FFI()
_ffi.cdef(_CDEF)
NO_DATE = _DEFINES["DF_NO_DATE"]
NODATA = _DEFINES["DF_DENSITY_NODATA"]
log = _logging.getLogger("dispflow")


def _load():
    """The shared library: $DISPFLOW_LIBRARY, the build tree's (this module is
    built into BUILD/python/dispflow), else the system's libdispflow.so.0."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    tried = []
    for path in (_os.environ.get("DISPFLOW_LIBRARY"), _os.path.join(here, "..", "..", "libdispflow.so.0"),
                 "libdispflow.so.0"):
        if not path or (path.startswith("/") and not _os.path.exists(path)):
            continue
        try:
            return _ffi.dlopen(path)
        except OSError as e:
            tried.append("%s: %s" % (path, e))
    raise ImportError("dispflow: libdispflow.so.0 not found (set DISPFLOW_LIBRARY): " + "; ".join(tried))


_lib = _load()
_number = _lib.df_version_number()
if _number // 10000 != _DEFINES["DISPFLOW_VERSION_MAJOR"] or _number < _DEFINES["DISPFLOW_VERSION_NUMBER"]:
    raise ImportError("dispflow: the library is version %d, this module was made for %d" %
                      (_number, _DEFINES["DISPFLOW_VERSION_NUMBER"]))
__version__ = "%d.%d.%d" % (_number // 10000, _number // 100 % 100, _number % 100)


# ---- errors -----------------------------------------------------------------

class Error(Exception):
    """A dispflow call failed. status: the code (int), name: its symbol
    ("EFORMAT"), message: what the library said (the file, line and field)."""
    status = None
    name = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


_errors = {}
for _st in range(1, _lib.DF_STATUS_COUNT):
    _name = _ffi.string(_lib.df_status_name(_st)).decode()
    _doc = _ffi.string(_lib.df_status_message(_st)).decode()
    _errors[_st] = type(_name, (Error,), {"status": _st, "name": _name, "__doc__": _doc, "__module__": __name__})
    globals()[_name] = _errors[_st]
    __all__.append(_name)


def version():
    """The versions of dispflow and of GDAL, PROJ and GEOS it runs with."""
    with _Session() as s:
        return _ffi.string(_lib.df_versions(s.ctx)).decode()


def shapes_dir():
    """The folder of the data shipped with dispflow (country profiles, alias
    tables), as the library finds it ($DISPFLOW_SHAPES first), or None."""
    p = _lib.df_shapes_dir()
    return _os.fsdecode(_ffi.string(p)) if p != _ffi.NULL else None


# ---- a call's context: log, progress, temporary files, kept strings ---------

def _tqdm_progress():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = tqdm(total=1000, unit="‰")

    def update(fraction, stage):
        bar.set_description(stage)
        bar.update(max(0, int(fraction * 1000) - bar.n))
    update.close = bar.close
    return update


class _Session:
    """One df_ctx for one call: logs go to the "dispflow" logger, progress to
    the caller's function (fraction, stage) -> False to cancel; strings given
    to the library are kept alive here; temporary files are removed at the end."""

    def __init__(self, progress=None):
        self.ctx = _ffi.gc(_lib.df_ctx_new(), _lib.df_ctx_free)
        if self.ctx == _ffi.NULL:
            raise MemoryError("dispflow: out of memory")
        self.keep = []
        self.tmp = None
        self.raised = None
        self._log = _ffi.callback("df_log_fn", self._on_log)
        _lib.df_ctx_set_log(self.ctx, self._log, _ffi.NULL)
        if progress is True:
            progress = _tqdm_progress()
        self.progress = progress
        if progress:
            self._progress = _ffi.callback("df_progress_fn", self._on_progress, error=0)
            _lib.df_ctx_set_progress(self.ctx, self._progress, _ffi.NULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if getattr(self.progress, "close", None):
            self.progress.close()
        if self.tmp:
            _shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    _levels = {0: _logging.DEBUG, 1: _logging.INFO, 2: _logging.WARNING, 3: _logging.ERROR}

    def _on_log(self, level, message, user):
        log.log(self._levels.get(level, _logging.INFO), "%s", _ffi.string(message).decode("utf-8", "replace"))

    def _on_progress(self, fraction, stage, user):
        try:
            go_on = self.progress(fraction, _ffi.string(stage).decode() if stage != _ffi.NULL else "")
        except BaseException as e:  # stop the library, raise it after the call
            self.raised = e
            return 0
        return 0 if go_on is False else 1

    def check(self, status):
        if self.raised is not None:
            raise self.raised
        if status != 0:
            msg = _ffi.string(_lib.df_ctx_errmsg(self.ctx)).decode("utf-8", "replace")
            raise _errors.get(status, Error)(msg, status)

    def path(self, name):
        if not self.tmp:
            self.tmp = _tempfile.mkdtemp(prefix="dispflow-")
        return _os.path.join(self.tmp, name)

    def cstr(self, value):
        if value is None:
            return _ffi.NULL
        s = _ffi.new("char[]", _os.fsencode(value) if isinstance(value, (str, bytes, _os.PathLike)) else
                     str(value).encode())
        self.keep.append(s)
        return s

    def cstrs(self, values):
        """A NULL-terminated list of strings (a string is a list of one)."""
        if values is None:
            return _ffi.NULL
        if isinstance(values, (str, bytes, _os.PathLike)):
            values = [values]
        items = [self.cstr(v) for v in values] + [_ffi.NULL]
        arr = _ffi.new("char *[]", items)
        self.keep.append(arr)
        return arr

    # -- inputs --
    def records(self, records):
        """A path for records: a path as given; a DataFrame or an iterable of
        dicts written to a temporary CSV, so that the library's reader maps
        its columns (HXL tags, DTM header names, dates, statuses) as it maps a
        file's. The push API (df_join_add & co.) takes records already mapped
        (docs/onepass.md)."""
        if isinstance(records, (str, bytes, _os.PathLike)):
            return _os.fspath(records)
        import pandas as pd
        df = records if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(list(records))
        path = self.path("records.csv")
        df.to_csv(path, index=False)
        return path

    def boundaries_path(self, boundaries):
        if isinstance(boundaries, (str, bytes, _os.PathLike)):
            return _os.fspath(boundaries)
        path = self.path("boundaries.gpkg")  # a GeoDataFrame
        boundaries.to_file(path, driver="GPKG")
        return path

    def load_boundaries(self, bo):
        out = _ffi.new("df_boundaries **")
        self.check(_lib.df_boundaries_load(self.ctx, bo, out))
        return _ffi.gc(out[0], _lib.df_boundaries_free)


# ---- options: Python keywords into the library's option structs -------------

def _date(value):
    if value is None:
        return NO_DATE
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.strftime("%Y-%m-%d")
    days = _ffi.new("int32_t *")
    if _lib.df_date_parse(str(value).encode(), days) != 0:
        raise _errors[_lib.DF_EINVAL]("not a date (use yyyy-mm-dd): %r" % (value,))
    return days[0]


def _level(value):
    s = str(value).lower()
    s = s[3:] if s.startswith("adm") else s
    if s not in ("1", "2", "3"):
        raise _errors[_lib.DF_EINVAL]("a level is adm1, adm2 or adm3, not %r" % (value,))
    return int(s)


_DATE_FIELDS = {"from", "as_of", "to"}
_LEVEL_FIELDS = {"level", "origin_level", "dest_level"}
_AMBIGUOUS = {"path", "layer"}  # say records_layer or boundaries_layer


def _set_field(s, struct, field, ctype, value):
    kind = ctype.kind
    if field in _DATE_FIELDS:
        value = _date(value)
    elif field in _LEVEL_FIELDS:
        value = _level(value)
    elif field == "status" and isinstance(value, str):  # density: -1 all, or a movement
        value = {"all": -1, "displaced": _lib.DF_DISPLACED, "returned": _lib.DF_RETURNED}[value.lower()]
    elif field == "delimiter":  # as the CLI's --delimiter and the job's key
        c = _ffi.new("char *")
        if _lib.df_delimiter_parse(str(value).encode(), c) != 0:
            raise _errors[_lib.DF_EINVAL]("delimiter is comma, semicolon, tab, pipe or one of , ; |, not %r" % value)
        value = c[0]
    elif kind == "pointer" and ctype.item.kind == "pointer":
        value = s.cstrs(value)
    elif kind == "pointer":
        value = s.cstr(value)
    elif kind == "enum" and isinstance(value, str):
        want = value.upper().replace("-", "_")
        names = [n for n in ctype.relements if n == want or n.endswith("_" + want)]
        if len(names) != 1:
            raise _errors[_lib.DF_EINVAL]("%s: %r is not one of %s" % (
                field, value, ", ".join(n.split("_", 2)[-1].lower() for n in ctype.relements)))
        value = ctype.relements[names[0]]
    elif kind == "array":
        value = list(value)
    elif isinstance(value, bool):
        value = int(value)
    setattr(struct, field, value)


def _apply(s, options, structs):
    """Set each keyword option on every struct that has a field of its name
    (from_ is from; records_X and boundaries_X name the struct)."""
    for key, value in options.items():
        field = key.rstrip("_")
        targets = structs
        for prefix in ("records_", "boundaries_"):
            if field.startswith(prefix) and prefix[:-1] in structs:
                targets = {prefix[:-1]: structs[prefix[:-1]]}
                field = field[len(prefix):]
        hits = 0
        for name, struct in targets.items():
            fields = dict(_ffi.typeof(struct).item.fields)
            if field not in fields or field == "size":
                continue
            if field in _AMBIGUOUS and len(targets) > 1:
                raise TypeError("say records_%s or boundaries_%s, not %s" % (field, field, key))
            _set_field(s, struct, field, fields[field].type, value)
            hits += 1
        if not hits:
            known = sorted({f for st in structs.values() for f, _ in _ffi.typeof(st).item.fields} - {"size"})
            raise TypeError("unknown option %r; the options are: %s" % (key, ", ".join(known)))


def _opts(ctype, init):
    o = _ffi.new(ctype + " *")
    init(o)
    return o


def _common(s, records, boundaries, aliases=None, profile=None):
    """The records' and the boundaries' options, as the CLI makes them: the
    shipped country profiles (and their alias tables) found at run time."""
    ro = _opts("df_record_opts", _lib.df_record_opts_init)
    ro.path = s.cstr(s.records(records))
    bo = _opts("df_boundary_opts", _lib.df_boundary_opts_init)
    if boundaries is not None:
        bo.path = s.cstr(s.boundaries_path(boundaries))
    shapes = shapes_dir()
    if shapes:
        bo.profiles = s.cstr(_os.path.join(shapes, "profiles"))
    if profile is not None:
        bo.profile = s.cstr(profile)
    if aliases is not None:
        bo.aliases = s.cstrs(aliases)
    return ro, bo


def _to_dict(cdata):
    """A struct of the library as a dict (nested structs as dicts, char arrays
    as str, other arrays as lists)."""
    out = {}
    for name, field in _ffi.typeof(cdata).fields:
        v = getattr(cdata, name)
        t = field.type
        if t.kind == "struct":
            v = _to_dict(v)
        elif t.kind == "array" and t.item.cname == "char":
            v = _ffi.string(v).decode("utf-8", "replace")
        elif t.kind == "array":
            v = [_to_dict(x) if t.item.kind == "struct" else (list(x) if t.item.kind == "array" else x) for x in v]
        elif t.kind == "pointer":
            v = _ffi.string(v).decode("utf-8", "replace") if v != _ffi.NULL and t.item.cname == "char" else None
        out[name] = v
    return out


def _read_table(path):
    import pandas as pd
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# ---- the verbs ----------------------------------------------------------------

def _run_join(s, records, boundaries, level, as_of, options, aliases=None, profile=None):
    ro, bo = _common(s, records, boundaries, aliases, profile)
    jo = _opts("df_join_opts", _lib.df_join_opts_init)
    _apply(s, dict(options, level=level, as_of=as_of) if as_of is not None else dict(options, level=level),
           {"join": jo, "records": ro, "boundaries": bo})
    b = s.load_boundaries(bo)
    out = _ffi.new("df_join **")
    s.check(_lib.df_join_run(s.ctx, b, ro, jo, out))
    return b, _ffi.gc(out[0], _lib.df_join_free)


def join(records, boundaries, level="adm2", as_of=None, *, progress=None, aliases=None, profile=None, **options):
    """Match records to the admin units of boundaries and aggregate, as
    `dispflow join`: a GeoDataFrame with one feature per unit and the columns
    of the CLI's output (docs/join.md). records: a path, a pandas DataFrame
    or an iterable of dicts; boundaries: a path or a GeoDataFrame. options:
    the fields of df_record_opts, df_boundary_opts and df_join_opts (from_,
    strict, prefer_points, delimiter="semicolon", kind="snapshots",
    records_layer, boundaries_layer, map="adm2=District,...", ...). The balance
    is in .attrs["balance"]."""
    import geopandas as gpd
    with _Session(progress) as s:
        b, j = _run_join(s, records, boundaries, level, as_of, options, aliases, profile)
        path = s.path("join.gpkg")
        s.check(_lib.df_join_write(s.ctx, j, b, path.encode(), b"GPKG", _ffi.NULL))
        gdf = gpd.read_file(path)
        gdf.attrs["balance"] = _to_dict(_lib.df_join_balance(j)[0])
        return gdf


def check(records, boundaries, level="adm2", as_of=None, *, progress=None, aliases=None, profile=None, **options):
    """How each distinct stated name was reconciled, as `dispflow check`: a
    DataFrame with level, name, parent, how (name, alt-name, alias, skeleton,
    fuzzy, unmatched), pcode, unit, score, ambiguous, candidates and rows. The
    balance is in .attrs["balance"]."""
    import pandas as pd
    with _Session(progress) as s:
        b, j = _run_join(s, records, boundaries, level, as_of, dict(options, strict=False), aliases, profile)
        rows = [_to_dict(_lib.df_join_decision(j, i)[0]) for i in range(_lib.df_join_decision_count(j))]
        df = pd.DataFrame(rows, columns=["level", "name", "parent", "how", "pcode", "unit", "score", "ambiguous",
                                         "candidates", "rows"])
        df["ambiguous"] = df["ambiguous"].astype(bool)
        df.attrs["balance"] = _to_dict(_lib.df_join_balance(j)[0])
        return df


def flows(records, boundaries, origin_level="adm2", dest_level="adm2", *, bend=0.15, endpoints="inside",
          progress=None, aliases=None, profile=None, **options):
    """Origin-destination flows, as `dispflow flows`: (matrix, lines), the OD
    matrix in long form (the columns of --matrix) and a GeoDataFrame of the
    flow lines (those of -o). options: the fields of df_flow_opts (origins=
    "corridor", from_, to, step="month", min, top, no_intra, totals, kind)
    and of the records' and boundaries' options; bend=0 draws straight lines."""
    import geopandas as gpd
    with _Session(progress) as s:
        ro, bo = _common(s, records, boundaries, aliases, profile)
        fo = _opts("df_flow_opts", _lib.df_flow_opts_init)
        _apply(s, dict(options, origin_level=origin_level, dest_level=dest_level),
               {"flows": fo, "records": ro, "boundaries": bo})
        b = s.load_boundaries(bo)
        out = _ffi.new("df_flows **")
        s.check(_lib.df_flows_run(s.ctx, b, ro, fo, out))
        f = _ffi.gc(out[0], _lib.df_flows_free)
        matrix, lines = s.path("od.csv"), s.path("lines.gpkg")
        s.check(_lib.df_flows_write_matrix(s.ctx, f, b, matrix.encode(), 0))
        ends = {"inside": _lib.DF_ENDPOINTS_INSIDE, "weighted": _lib.DF_ENDPOINTS_WEIGHTED}.get(endpoints)
        if ends is None:
            raise _errors[_lib.DF_EINVAL]("endpoints is inside or weighted, not %r" % (endpoints,))
        s.check(_lib.df_flows_write_lines(s.ctx, f, b, lines.encode(), float(bend), ends, _ffi.NULL))
        df = _read_table(matrix)
        df.attrs["balance"] = _to_dict(_lib.df_flows_balance(f)[0])
        return df, gpd.read_file(lines)


Density = _namedtuple("Density", "values geotransform crs info")
Density.__doc__ = """A density grid: values (numpy float32, rows from the top, NaN where
masked), geotransform (GDAL's six numbers), crs ("EPSG:32638" or the
t_srs given) and info (the library's df_density_info as a dict)."""


def density(records, boundaries=None, *, progress=None, aliases=None, profile=None, **options):
    """Kernel density of people at the record locations, as `dispflow
    density` (docs/density.md): a Density(values, geotransform, crs, info).
    options: the fields of df_density_opts (pixel, radius, kernel="quartic",
    bandwidth, t_srs, extent=(xmin, ymin, xmax, ymax), mask, raw, weight,
    status=-1|0|1, from_, as_of, threads) and of the records' options."""
    import numpy as np
    if "extent" in options:
        options["has_extent"] = 1
    with _Session(progress) as s:
        ro, bo = _common(s, records, boundaries, aliases, profile)
        do = _opts("df_density_opts", _lib.df_density_opts_init)
        _apply(s, options, {"density": do, "records": ro, "boundaries": bo})
        b = s.load_boundaries(bo) if boundaries is not None else _ffi.NULL
        out = _ffi.new("df_density **")
        s.check(_lib.df_density_run(s.ctx, ro, b, do, out))
        d = _ffi.gc(out[0], _lib.df_density_free)
        info = _to_dict(_lib.df_density_get_info(d)[0])
        n = info["width"] * info["height"]
        values = np.frombuffer(_ffi.buffer(_lib.df_density_values(d), n * 4), dtype=np.float32).copy()
        values = values.reshape(info["height"], info["width"])
        values[values == np.float32(NODATA)] = np.nan
        return Density(values, tuple(info["geotransform"]), info["crs"], info)


def run(job, output=None, *, publish=False, progress=None):
    """Run a job file, as `dispflow run` (docs/jobs.md): every product of a
    data round into its bundle folder, swapped in only when complete. Returns
    the bundle folder."""
    with _Session(progress) as s:
        shapes = shapes_dir()
        profiles = s.cstr(_os.path.join(shapes, "profiles")) if shapes else _ffi.NULL
        out = _ffi.new("df_job **")
        st = _lib.df_job_load(s.ctx, _os.fsencode(job), profiles, out)
        jf = _ffi.gc(out[0], _lib.df_job_free) if out[0] != _ffi.NULL else None
        s.check(st)
        if output is not None:
            s.check(_lib.df_job_set_output(s.ctx, jf, _os.fsencode(output)))
        if publish:
            _lib.df_job_set_publish(jf, 1)
        s.check(_lib.df_job_run(s.ctx, jf))
        return _os.fsdecode(_ffi.string(_lib.df_job_output(jf)))
