/*
 * options.c — the one table of options (issue 15 item 2): every option of the
 * CLI and of the job file with its section, key, flag, type, default, help
 * and verbs; reading a value as its type says, for the job reader and the
 * argv parser alike. See df_options.h.
 */
#include "df_job.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const kinds[] = {"increments", "snapshots", "auto", NULL};
static const char *const duplicate_policies[] = {"default", "keep", "drop", "refuse", NULL};
static const char *const assessment_policies[] = {"refuse", "add", NULL};
static const char *const movements[] = {"displaced", "returned", NULL};
static const char *const people[] = {"displaced", "returned", "all", "still", NULL}; /* DF__PEOPLE_* */
static const char *const preferences[] = {"names", "points", NULL};
static const char *const endpoint_ways[] = {"inside", "weighted", NULL};
static const char *const bandwidth_rules[] = {"fixed", "silverman", "scott", NULL};
static const char *const class_schemes[] = {"nice", "quantile", "jenks", NULL}; /* DF__CLASSES_* */
static const char *const records_layer_ways[] = {"auto", "always", "no", NULL}; /* df__records_layer */

#define DEFAULT_DISCLAIMER                                                                                             \
    "The boundaries and names shown and the designations used on this map do not imply official endorsement or "       \
    "acceptance by the United Nations."

#define O(field) .in = DF__IN_OPTS, .at = offsetof(df__opts, field)
#define J(field) .in = DF__IN_JOB, .at = offsetof(struct df_job, field)
#define READ     DF__VERBS_READ
#define RUN      DF__VERB_RUN
#define RUNARGV  DF__VERB_RUN_ARGV
#define F(field) .flag_at = offsetof(df__opts, field) /* a job key's flag: run's override */
#define JOIN     DF__VERB_JOIN
#define CHECK    DF__VERB_CHECK
#define FLOWS    DF__VERB_FLOWS
#define DENSITY  DF__VERB_DENSITY

/* In the order of docs/jobs.md; the options of the CLI alone (key NULL) in
 * the section under which --help lists them. To add an option: a row here,
 * its field (in df__opts when the CLI takes it, else in struct df_job), a
 * line in docs/jobs.md (a key) or docs/cli.md (a flag); test_options.c then
 * checks that the key and the flag agree, the default, --help and the docs. */
const df__opt df__options[] = {
    /* ---- [job] ---- */
    {"job", "title", NULL, DF__OPT_TEXT, RUN, J(title), .help = "the report's title"},
    {"job", "output", "--output", DF__OPT_OUTPUT, RUN | RUNARGV, J(output), F(run_output), .meta = "DIR",
     .help = "the bundle folder ({as_of}: the as-of date); an existing folder\nis replaced only when it is a previous "
             "bundle or empty"},
    {"job", "from", "--from", DF__OPT_DATE, READ | RUN, O(jo.from), .def = "(the first date in the data)",
     .help = "the first date counted"},
    {"job", "as_of", "--as-of", DF__OPT_DATE, READ | RUN | RUNARGV, O(jo.as_of), .def = "(the latest date in the data)",
     .help = "the last date counted (inclusive); with snapshots, the latest\nsnapshot on or before it"},
    {"job", "step", "--step", DF__OPT_STEP, FLOWS | RUN, O(fo.step), .def = "none", .job_def = "month",
     .help = "one flow per pair per day, ISO week (Monday-Sunday), calendar\nmonth, or round (a DTM round is a "
             "date: the same as day); in a\njob also the periods table and the report's change column"},
    {"job", "origins", "--origins", DF__OPT_TEXT, FLOWS | RUN, O(fo.origins), .def = "(all)", .meta = "LIST",
     .help = "keep flows whose origin lies in: a preset of the country profile\n('corridor' in Iraq's: the Mosul "
             "corridor districts) or a\ncomma-separated list of P-codes or names of units at any level"},
    {"job", "database", NULL, DF__OPT_TEXT, RUN, J(database),
     .help = "PG:dbname=... : the bundle's layers written to PostGIS too"},
    {"job", "schema", NULL, DF__OPT_TEXT, RUN, J(schema), .def = "(dispflow)",
     .help = "the PostGIS schema ({as_of}: the as-of date)"},
    /* ---- [records] ---- */
    {"records", "path", "--records", DF__OPT_INPUT, READ | RUN, O(ro.path), .meta = "FILE",
     .help = "CSV/TSV (any of , ; TAB |), DTM API JSON, XLSX, ODS, GPKG,\nGeoJSON points, or any table OGR reads; "
             "'-' is stdin (CSV);\n\"PG:dbname=DB\" a PostgreSQL table (--records-layer) or view"},
    {"records", "layer", "--records-layer", DF__OPT_TEXT, READ | RUN, O(ro.layer), .meta = "NAME",
     .help = "sheet or layer of the records file; a table of PG: (schema.table)"},
    {"records", "map", "--map", DF__OPT_TEXT, READ | RUN, O(ro.map), .meta = "F=COL,...",
     .help = "map fields to columns by header name or 1-based number:\ndate status adm1 adm1_pcode adm2 adm2_pcode "
             "adm3 adm3_pcode\nlocation lat lon families individuals shelter origin_adm1\norigin_adm2 "
             "displacement_adm2 ... Unmapped fields are found\nby the HXL tag row, then by DTM header names"},
    {"records", "delimiter", "--delimiter", DF__OPT_DELIMITER, READ | RUN, O(ro.delimiter), .def = "(detected)",
     .meta = "C", .help = "CSV delimiter: comma, semicolon, tab, pipe or one of , ; |"},
    {"records", "header", "--no-header", DF__OPT_BOOL, READ | RUN, O(ro.header), .def = "(detected)",
     .help = "the first line is data (use --map with column numbers)"},
    {"records", "household_size", "--household-size", DF__OPT_NUMBER, READ | RUN, O(ro.household_size), .def = "6",
     .help = "individuals per family when individuals are absent"},
    {"records", "kind", "--kind", DF__OPT_CHOICE, READ | RUN, O(ro.kind), kinds, .def = "auto",
     .help = "snapshots: rows count people present at a date (DTM rounds):\nfigures are those of the latest date on "
             "or before --as-of, per\noperation, never a sum across dates; increments: rows count\npeople who moved "
             "on a date, summed over the period; auto:\nsnapshots for DTM API tables, else increments with a "
             "warning\nwhen units repeat on several dates"},
    {"records", "status", "--status", DF__OPT_CHOICE, READ | RUN, O(ro.default_status), movements, .def = "displaced",
     .help = "status of rows in tables without a status column"},
    {"records", "operation", "--operation", DF__OPT_LIST, READ | RUN, O(operations), .sep = ',', .meta = "NAME",
     .help = "count this DTM operation (repeatable; a list in the job file);\na table of several operations needs "
             "one; 'all' adds them on purpose"},
    {"records", "where", "--where", DF__OPT_LIST, READ | RUN, O(where), .sep = '&', .meta = "COL=V[,V...]",
     .help = "read only rows whose column COL (header name, or a field:\nlevel, assessment, split) holds one of the "
             "values (repeatable;\nfilters joined by & in the job file)"},
    {"records", "duplicates", "--duplicates", DF__OPT_CHOICE, READ | RUN, O(ro.duplicates), duplicate_policies,
     .def = "(keep with a warning in increment tables, refuse rival snapshots)",
     .help = "rows seen twice: keep, drop or refuse"},
    {"records", "assessments", "--assessments", DF__OPT_CHOICE, READ | RUN, O(ro.add_assessments), assessment_policies,
     .def = "refuse",
     .help = "add: add two assessment types of one place and date on purpose\n(or choose one with --where "
             "assessment=BA)"},
    {"records", "source", NULL, DF__OPT_TEXT, RUN, J(records_source), .def = "(the records file's name)",
     .help = "the records' source in every credit line"},
    /* ---- [boundaries] ---- */
    {"boundaries", NULL, "--boundaries", DF__OPT_INPUT, READ, O(bo.path), .meta = "FILE",
     .help = "any OGR polygon source in any CRS (reprojected to WGS84)"},
    {"boundaries", NULL, "--boundaries-layer", DF__OPT_TEXT, READ, O(bo.layer), .meta = "NAME",
     .help = "the layer of the boundaries file"},
    {"boundaries", "adm1", NULL, DF__OPT_INPUT, RUN, J(adm[1]), .help = "the admin-1 boundary file"},
    {"boundaries", "adm2", NULL, DF__OPT_INPUT, RUN, J(adm[2]), .help = "the admin-2 boundary file"},
    {"boundaries", "adm3", NULL, DF__OPT_INPUT, RUN, J(adm[3]), .help = "the admin-3 boundary file"},
    {"boundaries", NULL, "--pcode-field", DF__OPT_TEXT, READ, O(bo.pcode_field), .def = "(detected)", .meta = "FIELD",
     .help = "the P-code field"},
    {"boundaries", "name_field", "--name-field", DF__OPT_TEXT, READ | RUN, O(bo.name_field), .meta = "FIELD",
     .help = "the name written in the outputs, for every level: a field\n(ADM2_FR; coarser levels take ADM1_FR) or "
             "a language (fr).\nNames are matched against every name field whatever it says"},
    {"boundaries", "aliases", NULL, DF__OPT_INPUT, RUN, J(aliases),
     .help = "an alias table of your own (level,alias,name,parent)"},
    {"boundaries", NULL, "--aliases", DF__OPT_LIST, READ, O(aliases), .meta = "FILE",
     .help = "an alias table of your own (level,alias,name,parent); its rows\nadd to the country profile's "
             "(repeatable)"},
    {"boundaries", "shipped_aliases", NULL, DF__OPT_BOOL, RUN, J(shipped_aliases), .def = "yes",
     .help = "the country profile's alias table"},
    {"boundaries", NULL, "--no-aliases", DF__OPT_NOT, READ, O(no_aliases),
     .help = "no alias table at all, the profile's or --aliases"},
    {"boundaries", "profile", "--profile", DF__OPT_TEXT, READ | RUN, O(bo.profile),
     .def = "(the one whose codes begin the layer's P-codes)", .meta = "P",
     .help = "the country profile: a name in shapes/profiles (irq), an .ini\nfile, or none (labels, aliases, "
             "--origins presets; docs/join.md)"},
    {"boundaries", "labels", NULL, DF__OPT_TEXT, RUN, O(bo.labels),
     .def = "(the layer's type fields, else the profile's)",
     .help = "level labels from admin 1, comma-separated (State, Locality)"},
    {"boundaries", "prefer", "--prefer", DF__OPT_CHOICE, READ | RUN, O(jo.prefer_points), preferences, .def = "names",
     .help = "names and coordinates disagree: which wins"},
    {"boundaries", "credit", NULL, DF__OPT_TEXT, RUN, J(boundaries_credit), .def = "(the boundary file's name)",
     .help = "the boundaries' source in every credit line"},
    /* ---- [join] ---- */
    {"join", "levels", NULL, DF__OPT_LEVELS, RUN, J(levels), .def = "(every level up to the finest boundary file)",
     .help = "the levels joined, e.g. adm1, adm2"},
    {"join", NULL, "--level", DF__OPT_LEVEL, JOIN | CHECK | DENSITY, O(level), .def = "(the layer's own)",
     .help = "the level joined; higher levels are derived by dissolving on\nthe parent fields (density: of "
             "--choropleth and --people still)"},
    {"join", NULL, "--log", DF__OPT_TEXT, JOIN | CHECK, O(jo.log_path), .meta = "FILE.csv",
     .help = "decision log: one row per input row, how it was matched"},
    {"join", NULL, "--strict", DF__OPT_BOOL, JOIN | CHECK, O(jo.strict),
     .help = "fail (exit 10) when any record is unmatched"},
    /* ---- [flows] ---- */
    {"flows", "enabled", NULL, DF__OPT_BOOL, RUN, J(flows), .def = "yes", .help = "compute the flows"},
    {"flows", "origin_level", "--origin-level", DF__OPT_LEVEL, FLOWS | RUN, O(fo.origin_level), .def = "adm2",
     .job_def = "(the finest boundary file)", .help = "admin level of the flows' origins"},
    {"flows", "dest_level", "--dest-level", DF__OPT_LEVEL, FLOWS | RUN, O(fo.dest_level), .def = "adm2",
     .job_def = "(the finest boundary file)", .help = "admin level of the flows' destinations"},
    {"flows", "min", "--min", DF__OPT_COUNT, FLOWS | RUN, O(fo.min), .def = "0",
     .help = "keep flows of at least N individuals (rank and share are\ncomputed before this filter)"},
    {"flows", "top", "--top", DF__OPT_INT, FLOWS | RUN, O(fo.top), .def = "0",
     .help = "keep the N largest flows per period and status (0: all)"},
    {"flows", "intra", "--no-intra", DF__OPT_NOT, FLOWS | RUN, O(fo.no_intra), .def = "yes",
     .help = "drop flows inside one unit (kept by default, drawn as loops)"},
    {"flows", "bend", "--bend", DF__OPT_RATIO, FLOWS | RUN, O(bend), .def = "0.15", .meta = "B",
     .help = "arcs bent B x their length to the right of travel; 0 (--straight):\nstraight lines, moved 2% of "
             "their length to the right, so that\nA->B and B->A never draw on top of each other"},
    {"flows", "endpoints", "--endpoints", DF__OPT_CHOICE, FLOWS | RUN, O(endpoints), endpoint_ways, .def = "inside",
     .job_def = "weighted",
     .help = "inside: a point inside each unit; weighted: the individuals-\nweighted centre of the record locations "
             "in the unit, when it\nlies inside the unit"},
    {"flows", NULL, "--totals", DF__OPT_BOOL, FLOWS, O(fo.totals),
     .help = "with --step: also each pair's total over the whole period\n(total = 1); every flow carries its "
             "cumulative individuals"},
    {"flows", NULL, "--matrix", DF__OPT_TEXT, FLOWS, O(matrix), .meta = "FILE.csv", .help = "the OD matrix, long form"},
    {"flows", NULL, "--hxl", DF__OPT_BOOL, FLOWS, O(hxl), .help = "the matrix with an HXL tag row"},
    {"flows", NULL, "--matrix-wide", DF__OPT_TEXT, FLOWS, O(matrix_wide), .meta = "FILE.csv",
     .help = "the OD matrix as a pivot: a row per origin, a column per\ndestination, individuals over the period, "
             "per status"},
    {"flows", NULL, "--net", DF__OPT_TEXT, FLOWS, O(net), .meta = "FILE.csv",
     .help = "net flows per unordered pair: a_to_b, b_to_a, net, direction"},
    {"flows", NULL, "--nodes", DF__OPT_TEXT, FLOWS, O(nodes), .meta = "FILE",
     .help = "one point per unit with inflow, outflow, net and intra"},
    /* ---- [density] ---- */
    {"density", "enabled", NULL, DF__OPT_BOOL, RUN, J(density), .def = "yes", .help = "compute the density raster"},
    {"density", "status", "--people", DF__OPT_CHOICE, DENSITY | RUN, O(people), people, .def = "all",
     .job_def = "displaced",
     .help = "the rows the raster counts: displaced, returned, all; still: the\ndisplaced, less the returns taken "
             "out of each unit (at --level)\nin proportion to where its displaced people are (needs\n--boundaries; "
             "docs/density.md)"},
    {"density", "kernel", "--kernel", DF__OPT_KERNEL, DENSITY | RUN, O(dn.kernel), .def = "quartic", .meta = "NAME",
     .help = "quartic: k = (1-u^2)^2, c = 3/pi; triweight (1-u^2)^3, 4/pi;\nepanechnikov 1-u^2, 2/pi; triangular "
             "1-u, 3/pi; uniform 1, 1/pi;\ngaussian exp(-4.5 u^2): sigma = R/3, cut at R = 3 sigma and\nrenormalised "
             "(u = d/R; zero beyond R)"},
    {"density", "radius", "--radius", DF__OPT_NUMBER, DENSITY | RUN, O(dn.radius),
     .def = "(required unless --bandwidth)", .job_def = "5000", .meta = "METRES", .help = "R, the kernel's reach"},
    {"density", "bandwidth", "--bandwidth", DF__OPT_CHOICE, DENSITY | RUN, O(dn.bandwidth), bandwidth_rules,
     .def = "fixed",
     .help = "R from the points instead: silverman (0.9 min(SD, Dm/sqrt(ln 2))\nn^-1/5, as ArcGIS) or scott "
             "(sigma n^-1/6); printed in the log"},
    {"density", "pixel", "--pixel", DF__OPT_NUMBER, DENSITY | RUN, O(dn.pixel), .def = "(required)", .job_def = "1000",
     .meta = "METRES", .help = "pixel size"},
    {"density", "mask", "--mask", DF__OPT_BOOL, DENSITY | RUN, O(dn.mask), .def = "no", .job_def = "yes",
     .help = "pixels whose centre lies outside the boundaries are nodata"},
    {"density", "t_srs", "-t_srs", DF__OPT_TEXT, DENSITY | RUN, O(dn.t_srs),
     .def = "(the WGS84 UTM zone of the points' median location)", .meta = "CRS",
     .help = "target CRS (EPSG:32638, WKT, PROJ string), projected"},
    {"density", "small_radius", "--small-radius", DF__OPT_BOOL, DENSITY | RUN, O(dn.small_radius), .def = "no",
     .help = "accept a radius below the pixel size (refused by default: most\npoints would reach no pixel centre); "
             "the radius is at most 1000\npixels whatever the options"},
    {"density", "max_pixels", "--max-pixels", DF__OPT_NUMBER, DENSITY | RUN, O(dn.max_pixels), .def = "50000000",
     .help = "refuse a grid of more than N pixels (12 bytes a pixel while it\nis made)"},
    {"density", "step", "--step", DF__OPT_STEP, DENSITY | RUN, O(density_step), .def = "none",
     .help = "also one raster per period from --from to --as-of, on the whole\nperiod's grid: OUT_yyyy-mm-dd.tif, "
             "the first day of the calendar\nperiod as flows label it (October: 2016-10-01); all moved into\nplace "
             "together when every one is written"},
    {"density", NULL, "--max-periods", DF__OPT_COUNT, DENSITY, O(max_periods), .def = "1000",
     .help = "refuse --step with more than N periods"},
    {"density", NULL, "--weight", DF__OPT_TEXT, DENSITY, O(weight), .def = "(individuals)", .meta = "W",
     .help = "what a point weighs: individuals, families, records (1 each),\nor the name of any count column"},
    {"density", NULL, "-te", DF__OPT_EXTENT, DENSITY, O(dn.has_extent), .meta = "XMIN YMIN XMAX YMAX",
     .def = "(the boundaries' extent, else the points' plus R)",
     .help = "grid extent in the target CRS, snapped to the pixel"},
    {"density", NULL, "--raw", DF__OPT_BOOL, DENSITY, O(dn.raw),
     .help = "raw sums of w k(u) (as QGIS's Heatmap 'Raw'), not people/km2"},
    {"density", NULL, "--choropleth", DF__OPT_TEXT, DENSITY, O(choropleth), .meta = "FILE.tif",
     .help = "the join's displaced per km2 (at --level) burned on the same\ngrid, to compare cell by cell"},
    /* ---- [report] ---- */
    {"report", "maps", NULL, DF__OPT_BOOL, RUN, J(maps), .def = "yes", .help = "map pictures"},
    {"report", "top_flows", NULL, DF__OPT_COUNT, RUN, J(top_flows), .def = "10", .help = "flows listed in the report"},
    {"report", "records_layer", NULL, DF__OPT_CHOICE, RUN, J(records_layer_mode), records_layer_ways, .def = "auto",
     .help = "the records as a layer of layers.gpkg"},
    {"report", "records_layer_max", NULL, DF__OPT_COUNT, RUN, J(records_layer_max), .def = "1000000",
     .help = "auto: no records layer above this many records (0: no limit)"},
    {"report", "organisation", NULL, DF__OPT_TEXT, RUN, J(report_organisation), .help = "in every credit line"},
    {"report", "contact", NULL, DF__OPT_TEXT, RUN, J(report_contact), .help = "printed on the report"},
    {"report", "disclaimer", NULL, DF__OPT_TEXT, RUN, J(report_disclaimer), .def = DEFAULT_DISCLAIMER,
     .help = "printed on every map"},
    {"report", "logo", NULL, DF__OPT_INPUT, RUN, J(report_logo), .help = "a PNG or SVG on the report"},
    {"report", "map_id", NULL, DF__OPT_TEXT, RUN, J(report_map_id), .def = DF__DEFAULT_MAP_ID,
     .help = "the maps' ID ({as_of}: the as-of date)"},
    /* ---- [maps] ---- */
    {"maps", "classes", NULL, DF__OPT_CHOICE, RUN, J(classes), class_schemes, .def = "nice",
     .help = "the class scheme of the maps"},
    {"maps", "breaks", NULL, DF__OPT_BREAKS, RUN, J(breaks), .help = "class breaks: ascending numbers > 0"},
    {"maps", "circles", NULL, DF__OPT_BOOL, RUN, J(circles), .def = "no", .help = "proportional circles"},
    {"maps", "labels", NULL, DF__OPT_TEXT, RUN, J(map_labels),
     .help = "the label lines: languages or name fields of the boundaries\n(en, ar)"},
    {"maps", "places", NULL, DF__OPT_INPUT, RUN, J(map_places),
     .help = "a CSV of camps and towns to draw: name, lat, lon, kind"},
    /* ---- [publish] ---- */
    {"publish", "enabled", "--publish", DF__OPT_BOOL, RUN | RUNARGV, J(publish), F(run_publish), .def = "no",
     .help = "a bundle to leave the office: figures on fewer than k families\nwithheld with enough beside them that "
             "none can be worked out;\nno record locations, no decision log (docs/publish.md)"},
    {"publish", "k", NULL, DF__OPT_COUNT, RUN, J(publish_k), .def = "5",
     .help = "figures on fewer than k families are withheld"},
    {"publish", "ledger", NULL, DF__OPT_OUTPUT, RUN, J(publish_ledger), .help = "the series' release ledger"},
    {"publish", "round", NULL, DF__OPT_COUNT, RUN, J(publish_round), .def = "0",
     .help = "figures rounded to a multiple of this (0: exact)"},
    {"publish", "new_series", "--new-series", DF__OPT_BOOL, RUN | RUNARGV, J(publish_new_series), F(run_new_series),
     .def = "no",
     .help = "with a ledger: start a new series of releases on purpose (a\nrelease the series cannot take, e.g. "
             "revised rounds, is refused)"},
    /* ---- the CLI's output options ---- */
    {"output", NULL, "-o", DF__OPT_TEXT, JOIN | FLOWS | DENSITY, O(out), .meta = "FILE",
     .help = "output, format by extension (join: .geojson RFC 7946, .gpkg,\n.csv; flows: the lines; density: a "
             "GeoTIFF)"},
    {"output", NULL, "-of", DF__OPT_TEXT, JOIN | FLOWS | DENSITY, O(format), .meta = "FORMAT",
     .help = "the format, overriding the extension (GeoJSON, GPKG, CSV;\nGTiff or COG)"},
    {"output", NULL, "-co", DF__OPT_LIST, JOIN | FLOWS | DENSITY, O(co), .meta = "KEY=VALUE",
     .help = "GDAL creation option (repeatable)"},
    {"output", NULL, "--config", DF__OPT_CONFIG, READ, O(config), .meta = "KEY VALUE",
     .help = "GDAL configuration option (repeatable)"},
    {"output", NULL, "--json-progress", DF__OPT_BOOL, RUNARGV, O(json_progress),
     .help = "run: progress as JSON lines on stderr: {\"stage\": ..., \"fraction\": ...}"},
    {"output", NULL, "-q", DF__OPT_BOOL, READ | RUNARGV, O(quiet),
     .help = "quiet: no balance, no warnings (run: no progress, no summary)"},
    {"output", NULL, "-v", DF__OPT_BOOL, READ | RUNARGV, O(verbose),
     .help = "verbose: also debug messages (threads used, GEOS notices)"},
    {"job", "source", NULL, DF__OPT_TEXT, RUN, J(records_source), .help = "an old name of [records] source"},
};
const int df__noptions = (int)(sizeof df__options / sizeof *df__options);

const df__shorthand df__shorthands[] = {
    {"--snapshots", "--kind", "snapshots", READ}, {"--increments", "--kind", "increments", READ},
    {"--straight", "--bend", "0", FLOWS},         {"--to", "--as-of", NULL, FLOWS},
    {"--default-status", "--status", NULL, READ}, {"--quiet", "-q", NULL, READ | RUNARGV},
    {"--verbose", "-v", NULL, READ | RUNARGV},
};
const int df__nshorthands = (int)(sizeof df__shorthands / sizeof *df__shorthands);

/* density's --status was a filter of the rows, while every other verb's
 * --status is the status of rows in tables without one: renamed --people,
 * and the old spelling refused, since it would now mean something else. */
const df__retired df__retired_flags[] = {
    {"--status", DENSITY,
     "density's --status is now --people displaced|returned|all|still (the rows the raster counts); the status of "
     "rows in a table without a status column is --default-status"},
    {"-o", CHECK, "check writes no figures (only --log); for an output use join -o"},
};
const int df__nretired = (int)(sizeof df__retired_flags / sizeof *df__retired_flags);

#undef O
#undef J
#undef F

/* ---- the option set ------------------------------------------------------- */

void df__opts_init(df__opts *o)
{
    memset(o, 0, sizeof *o);
    df_record_opts_init(&o->ro);
    df_boundary_opts_init(&o->bo);
    df_join_opts_init(&o->jo);
    df_flow_opts_init(&o->fo);
    df_density_opts_init(&o->dn);
    o->bend = 0.15;
    o->endpoints = DF_ENDPOINTS_INSIDE;
    o->people = DF__PEOPLE_ALL;
    o->density_step = DF_STEP_NONE;
    o->max_periods = 1000;
}

static void list_free(df__list *l)
{
    for (int i = 0; i < l->n; i++) free(l->item[i]);
    memset(l, 0, sizeof *l);
}

static int is_text(df__opt_type t) { return t == DF__OPT_TEXT || t == DF__OPT_INPUT || t == DF__OPT_OUTPUT; }

void df__opts_free(df__opts *o)
{
    for (int i = 0; i < df__noptions; i++) {
        const df__opt *row = &df__options[i];
        if (row->in != DF__IN_OPTS) {
            if (row->flag_at && is_text(row->type)) { /* run's override of a job key */
                free(*(char **)((char *)o + row->flag_at));
                *(char **)((char *)o + row->flag_at) = NULL;
            }
            continue;
        }
        int first = 1; /* a field two rows share is freed once */
        for (int k = 0; k < i; k++) first &= !(df__options[k].in == DF__IN_OPTS && df__options[k].at == row->at);
        if (!first) continue;
        void *at = (char *)o + row->at;
        if (is_text(row->type)) {
            free(*(char **)at);
            *(char **)at = NULL;
        } else if (row->type == DF__OPT_LIST || row->type == DF__OPT_CONFIG) {
            list_free(at);
        }
    }
    list_free(&o->args);
    df__opts_link(o);
}

void df__opts_link(df__opts *o)
{
    o->ro.operations = o->operations.n ? (const char *const *)o->operations.item : NULL;
    o->ro.where = o->where.n ? (const char *const *)o->where.item : NULL;
    o->bo.aliases = o->aliases.n && !o->no_aliases ? (const char *const *)o->aliases.item : NULL;
    o->bo.no_profile_aliases = o->no_aliases;
    o->fo.prefer_points = o->jo.prefer_points;
}

void *df__opt_field(const df__opt *row, df__opts *o, df_job *job)
{
    if (row->in == DF__IN_JOB) return job ? (char *)job + row->at : row->flag_at ? (char *)o + row->flag_at : NULL;
    return (char *)o + row->at;
}

/* ---- reading a value ------------------------------------------------------- */

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return 1;
        if (!strcasecmp(v, no[i])) return 0;
    }
    return -1;
}

static int parse_level(const char *v)
{
    if (!strncasecmp(v, "adm", 3)) v += 3;
    return v[0] >= '1' && v[0] <= '3' && !v[1] ? v[0] - '0' : -1;
}

/* "a, b or c", for a message. */
static const char *choice_list(const char *const *choices, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; choices[i]; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
    }
    return buf;
}

/* Add text to a list, cut at sep (0: whole), blanks trimmed, empty values
 * dropped. 0, -1 too many, -2 out of memory. */
static int list_add(df__list *l, const char *text, char sep)
{
    for (const char *p = text; p;) {
        const char *end = sep ? strchr(p, sep) : NULL;
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n || !sep) {
            if (l->n == DF__MAX_LIST) return -1;
            if (!(l->item[l->n] = malloc(n + 1))) return -2;
            memcpy(l->item[l->n], p, n);
            l->item[l->n++][n] = 0;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

#define BAD(...) (snprintf(why, cap, __VA_ARGS__), -1)

int df__opt_set(const df__opt *row, void *at, const char *v, char *why, size_t cap)
{
    char buf[256];
    int n;
    switch (row->type) {
    case DF__OPT_TEXT:
    case DF__OPT_INPUT:
    case DF__OPT_OUTPUT: {
        char *copy = df__strdup(v);
        if (!copy) return -2;
        free(*(char **)at);
        *(char **)at = copy;
        return 0;
    }
    case DF__OPT_DATE:
        return df_date_parse(v, (int32_t *)at) == 0 ? 0 : BAD("not a date (use yyyy-mm-dd): '%s'", v);
    case DF__OPT_INT:
    case DF__OPT_COUNT: {
        int64_t c;
        if (df__parse_count(v, strlen(v), &c) != 0 || c < 0 || c > INT32_MAX)
            return BAD("not a whole number >= 0: '%s'", v);
        if (row->type == DF__OPT_INT)
            *(int *)at = (int)c;
        else
            *(int64_t *)at = c;
        return 0;
    }
    case DF__OPT_NUMBER:
    case DF__OPT_RATIO: {
        double d;
        int number = row->type == DF__OPT_NUMBER;
        if (df__parse_double(v, strlen(v), &d) != 0 || !(number ? d > 0 : d >= 0) || d > 1e12)
            return BAD("not a number %s 0: '%s'", number ? ">" : ">=", v);
        *(double *)at = d;
        return 0;
    }
    case DF__OPT_BOOL:
    case DF__OPT_NOT:
        if ((n = parse_bool(v)) < 0) return BAD("not yes or no: '%s'", v);
        *(int *)at = row->type == DF__OPT_NOT ? !n : n;
        return 0;
    case DF__OPT_CHOICE:
        for (n = 0; row->choices[n]; n++)
            if (!strcasecmp(v, row->choices[n])) {
                *(int *)at = n;
                return 0;
            }
        return BAD("'%s' is not %s", v, choice_list(row->choices, buf, sizeof buf));
    case DF__OPT_LEVEL:
        if ((n = parse_level(v)) < 0) return BAD("not adm1, adm2 or adm3: '%s'", v);
        *(int *)at = n;
        return 0;
    case DF__OPT_LEVELS: {
        int mask = 0;
        snprintf(buf, sizeof buf, "%s", v);
        for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if ((n = parse_level(t)) < 0) return BAD("not a list of adm1, adm2, adm3: '%s'", v);
            mask |= 1 << n;
        }
        if (!mask) return BAD("no level given: '%s'", v);
        *(int *)at = mask;
        return 0;
    }
    case DF__OPT_KERNEL:
        if ((n = df_kernel_parse(v)) < 0)
            return BAD("'%s' is not quartic, triweight, epanechnikov, triangular, uniform or gaussian", v);
        *(int *)at = n;
        return 0;
    case DF__OPT_DELIMITER:
        return df_delimiter_parse(v, (char *)at) == 0 ? 0 : BAD("'%s' is not comma, semicolon, tab or pipe", v);
    case DF__OPT_STEP:
        if ((n = df_step_parse(v)) < 0) return BAD("'%s' is not none, day, week, month or round", v);
        *(int *)at = n;
        return 0;
    case DF__OPT_LIST:
    case DF__OPT_CONFIG:
        n = list_add(at, v, row->sep);
        return n == -1 ? BAD("more than %d values: '%s'", DF__MAX_LIST, v) : n;
    case DF__OPT_EXTENT: { /* at: has_extent of a df_density_opts, then its extent */
        double e[4];
        char *end = NULL;
        const char *p = v;
        for (n = 0; n < 4; n++, p = end) {
            e[n] = strtod(p, &end);
            if (end == p) break;
        }
        if (n < 4 || *end) return BAD("not four numbers XMIN YMIN XMAX YMAX: '%s'", v);
        double *extent =
            (double *)((char *)at - offsetof(df_density_opts, has_extent) + offsetof(df_density_opts, extent));
        memcpy(extent, e, sizeof e);
        *(int *)at = 1;
        return 0;
    }
    case DF__OPT_BREAKS:
        return BAD("read by the job file alone");
    }
    return BAD("unknown type");
}

#undef BAD

const char *df__opt_format(const df__opt *row, const void *at, char *buf, size_t cap)
{
    buf[0] = 0;
    switch (row->type) {
    case DF__OPT_TEXT:
    case DF__OPT_INPUT:
    case DF__OPT_OUTPUT:
        return *(char *const *)at;
    case DF__OPT_DATE:
        if (cap < 11) return NULL;
        df_date_format(*(const int32_t *)at, buf);
        return buf[0] ? buf : NULL;
    case DF__OPT_INT:
        snprintf(buf, cap, "%d", *(const int *)at);
        return buf;
    case DF__OPT_COUNT:
        snprintf(buf, cap, "%lld", (long long)*(const int64_t *)at);
        return buf;
    case DF__OPT_NUMBER:
    case DF__OPT_RATIO:
        snprintf(buf, cap, "%.15g", *(const double *)at);
        return buf;
    case DF__OPT_BOOL:
    case DF__OPT_NOT: {
        int v = *(const int *)at;
        return v < 0 ? "detect" : (row->type == DF__OPT_NOT ? !v : v) ? "yes" : "no";
    }
    case DF__OPT_CHOICE:
        return row->choices[*(const int *)at];
    case DF__OPT_LEVEL:
        snprintf(buf, cap, "adm%d", *(const int *)at);
        return buf;
    case DF__OPT_LEVELS:
        for (int l = 1; l <= 3; l++)
            if (*(const int *)at & (1 << l))
                snprintf(buf + strlen(buf), cap - strlen(buf), "%sadm%d", buf[0] ? "," : "", l);
        return buf;
    case DF__OPT_KERNEL:
        return df_kernel_name((df_kernel) * (const int *)at);
    case DF__OPT_DELIMITER: {
        static const char *const names[] = {"comma", "semicolon", "tab", "pipe"};
        const char *p = strchr(",;\t|", *(const char *)at);
        return *(const char *)at && p ? names[p - ",;\t|"] : "detect";
    }
    case DF__OPT_STEP: {
        static const char *const names[] = {"none", "day", "week", "month"};
        int s = *(const int *)at;
        return s >= 0 && s < 4 ? names[s] : NULL;
    }
    case DF__OPT_LIST:
    case DF__OPT_CONFIG: {
        const df__list *l = at;
        char sep[4] = {row->sep ? row->sep : ',', ' ', 0, 0};
        if (row->sep == '&') snprintf(sep, sizeof sep, " & ");
        for (int i = 0; i < l->n; i++) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? sep : "", l->item[i]);
        return l->n ? buf : NULL;
    }
    case DF__OPT_EXTENT: {
        const double *e = (const double *)((const char *)at - offsetof(df_density_opts, has_extent) +
                                           offsetof(df_density_opts, extent));
        if (!*(const int *)at) return NULL;
        snprintf(buf, cap, "%.15g %.15g %.15g %.15g", e[0], e[1], e[2], e[3]);
        return buf;
    }
    case DF__OPT_BREAKS:
        return NULL; /* the job formats its breaks (it holds their count) */
    }
    return NULL;
}

const char *df__opt_meta(const df__opt *row, char *buf, size_t cap)
{
    if (row->meta) return row->meta;
    switch (row->type) {
    case DF__OPT_DATE:
        return "DATE";
    case DF__OPT_INT:
    case DF__OPT_COUNT:
    case DF__OPT_NUMBER:
    case DF__OPT_RATIO:
        return "N";
    case DF__OPT_BOOL:
    case DF__OPT_NOT:
        return "";
    case DF__OPT_CHOICE:
        buf[0] = 0;
        for (int i = 0; row->choices[i]; i++)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "|" : "", row->choices[i]);
        return buf;
    case DF__OPT_LEVEL:
        return "adm1|adm2|adm3";
    case DF__OPT_STEP:
        return "day|week|month|round";
    case DF__OPT_DELIMITER:
        return "C";
    default:
        return "VALUE";
    }
}

/* ---- the command line ---------------------------------------------------- */

/* Edit distance (insert, delete, substitute) of two short words. */
static int edits(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best, diag = up;
        }
    }
    return row[lb];
}

const char *df__did_you_mean(const char *known, const char *typed, char *out, size_t cap)
{
    char words[128][40], contains[200] = "";
    int n = 0, best = (int)strlen(typed) / 3 + 2, at = -1;
    out[0] = '\0';
    for (const char *p = known; *p && n < 128;) {
        size_t k = strcspn(p, " \n,|[]=");
        if (k > 1 && k < 40 && (p == known || strchr(" \n[|", p[-1])) && (*typed != '-' || *p == '-')) {
            int dup = 0;
            for (int i = 0; i < n; i++) dup |= strlen(words[i]) == k && !strncmp(words[i], p, k);
            if (!dup) snprintf(words[n++], sizeof *words, "%.*s", (int)k, p);
        }
        p += k + (p[k] != '\0');
    }
    const char *bare = typed + strspn(typed, "-");
    for (int i = 0; i < n; i++) {
        if (strlen(bare) >= 3 && strstr(words[i], bare) && strlen(contains) + 45 < sizeof contains) {
            if (contains[0]) strcat(contains, " or ");
            strcat(contains, words[i]);
        }
        int d = edits(typed, words[i]);
        if (d < best) best = d, at = i;
    }
    snprintf(out, cap, "%s", contains[0] ? contains : at >= 0 ? words[at] : "");
    return out;
}

static const df__opt *find_flag(const char *flag, int verb)
{
    for (int i = 0; i < df__noptions; i++)
        if (df__options[i].flag && (df__options[i].verbs & verb) && !strcmp(df__options[i].flag, flag))
            return &df__options[i];
    return NULL;
}

/* "unknown option X (did you mean Y?)", from the verb's flags and shorthands. */
static void unknown_flag(int verb, const char *typed, char *err, size_t cap)
{
    char known[4096] = "", near[200];
    for (int i = 0; i < df__noptions; i++)
        if (df__options[i].flag && (df__options[i].verbs & verb))
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s ", df__options[i].flag);
    for (int i = 0; i < df__nshorthands; i++)
        if (df__shorthands[i].verbs & verb)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s ", df__shorthands[i].flag);
    df__did_you_mean(known, typed, near, sizeof near);
    snprintf(err, cap, "unknown option %s%s%s%s", typed, near[0] ? " (did you mean " : "", near, near[0] ? "?)" : "");
}

int df__opts_parse_argv(df__opts *o, int verb, int argc, char **argv, char *err, size_t cap)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *fixed = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        for (int k = 0; k < df__nretired; k++)
            if ((df__retired_flags[k].verbs & verb) && !strcmp(a, df__retired_flags[k].flag))
                return snprintf(err, cap, "%s", df__retired_flags[k].instead), -1;
        for (int k = 0; k < df__nshorthands; k++)
            if ((df__shorthands[k].verbs & verb) && !strcmp(a, df__shorthands[k].flag)) {
                a = df__shorthands[k].option, fixed = df__shorthands[k].value;
                break;
            }
        const df__opt *row = find_flag(a, verb);
        if (!row && argv[i][0] != '-' && (verb & DF__VERB_RUN_ARGV)) { /* run's job file */
            int rc = list_add(&o->args, argv[i], 0);
            if (rc < 0) return rc == -2 ? -2 : (snprintf(err, cap, "too many arguments: %s", argv[i]), -1);
            continue;
        }
        if (!row) {
            if (argv[i][0] == '-')
                unknown_flag(verb, argv[i], err, cap);
            else
                snprintf(err, cap, "unexpected argument %s", argv[i]);
            return -1;
        }
        int nvalues = fixed || row->type == DF__OPT_BOOL || row->type == DF__OPT_NOT ? 0
                      : row->type == DF__OPT_EXTENT                                  ? 4
                      : row->type == DF__OPT_CONFIG                                  ? 2
                                                                                     : 1;
        if (i + nvalues >= argc) {
            snprintf(err, cap, "missing %s after %s", nvalues > 1 ? df__opt_meta(row, NULL, 0) : "a value", argv[i]);
            return -1;
        }
        char value[4096], why[400];
        if (fixed)
            snprintf(value, sizeof value, "%s", fixed);
        else if (nvalues == 0) /* a flag: "--no-X" says no, any other yes */
            snprintf(value, sizeof value, "%s", !strncmp(row->flag, "--no-", 5) ? "no" : "yes");
        else if (row->type == DF__OPT_EXTENT)
            snprintf(value, sizeof value, "%s %s %s %s", argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4]);
        else if (row->type == DF__OPT_CONFIG)
            snprintf(value, sizeof value, "%s=%s", argv[i + 1], argv[i + 2]);
        else
            snprintf(value, sizeof value, "%s", argv[i + 1]);
        int rc = df__opt_set(row, df__opt_field(row, o, NULL), value, why, sizeof why);
        if (rc == -2) return -2;
        if (rc < 0) return snprintf(err, cap, "%s: %s", argv[i], why), -1;
        i += nvalues;
    }
    df__opts_link(o);
    return 0;
}
