/*
 * atomic.c — outputs are written to a temporary file beside the target and
 * renamed into place only when complete, so a reader never sees half a file
 * and a failed run leaves the previous output untouched. Nothing a user owns
 * is replaced by mistake: an output must be absent or a regular file (a
 * symbolic link is followed to its file), keeps the mode of the file it
 * replaces, and is never one of the inputs or another output
 * (df_outputs_check, before any work).
 */
#define _DEFAULT_SOURCE /* realpath */
#include "df_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a FIFO (named pipe)"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* Where an output at path goes: path itself, or the file a symbolic link
 * there points to (followed; said in the log when say). Anything that
 * exists and is not a regular file is refused: `-o /dev/null` as root
 * would otherwise replace the system's /dev/null with a file. *sb gets the
 * target's status, or st_mode 0 when it does not exist yet. */
static df_status target_of(df_ctx *ctx, const char *path, char *target, size_t cap, struct stat *sb, int say)
{
    memset(sb, 0, sizeof *sb);
    if (lstat(path, sb) != 0) { /* absent (or unreachable: the write says why) */
        memset(sb, 0, sizeof *sb);
        if (snprintf(target, cap, "%s", path) >= (int)cap)
            return df__error(ctx, DF_EINVAL, "output path too long: %s", path);
        return DF_OK;
    }
    if (S_ISLNK(sb->st_mode)) {
        char *real = realpath(path, NULL);
        if (!real || stat(real, sb) != 0) {
            int e = errno;
            free(real);
            return df__error(ctx, DF_EIO,
                             "%s is a symbolic link to a missing file (%s): not followed; remove the link or name "
                             "its target",
                             path, strerror(e));
        }
        int n = snprintf(target, cap, "%s", real);
        free(real);
        if (n >= (int)cap) return df__error(ctx, DF_EINVAL, "output path too long: %s", path);
        if (!S_ISREG(sb->st_mode))
            return df__error(ctx, DF_EIO, "%s is a symbolic link to %s, which is %s: not replaced", path, target,
                             kind_of(sb->st_mode));
        if (say) df__log(ctx, DF_LOG_INFO, "%s is a symbolic link: followed, writing to its target %s", path, target);
        return DF_OK;
    }
    if (!S_ISREG(sb->st_mode))
        return df__error(ctx, DF_EIO, "%s is %s: not replaced (an output is a new or a regular file)", path,
                         kind_of(sb->st_mode));
    if (snprintf(target, cap, "%s", path) >= (int)cap)
        return df__error(ctx, DF_EINVAL, "output path too long: %s", path);
    return DF_OK;
}

df_status df__temp_path(df_ctx *ctx, const char *path, char *tmp, size_t cap)
{
    static _Atomic unsigned counter;
    char target[PATH_MAX + 1];
    struct stat sb;
    df_status st = target_of(ctx, path, target, sizeof target, &sb, 1);
    if (st != DF_OK) return st;
    /* beside the target, on its file system: the rename cannot cross one */
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    const char *dot = strrchr(base, '.');
    int dirlen = slash ? (int)(slash - target + 1) : 0;
    int baselen = dot ? (int)(dot - base) : (int)strlen(base);
    int n = snprintf(tmp, cap, "%.*s.%.*s.tmp-%ld-%u%s", dirlen, target, baselen, base, (long)getpid(), counter++,
                     dot ? dot : "");
    if (n < 0 || (size_t)n >= cap) return df__error(ctx, DF_EINVAL, "output path too long: %s", path);
    /* a missing folder: named, not the temporary file (issue 17 item 21) */
    char dir[PATH_MAX + 1];
    snprintf(dir, sizeof dir, "%.*s", dirlen > 1 ? dirlen - 1 : 1, dirlen ? target : ".");
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return df__error(ctx, DF_EIO, "cannot write %s: the folder %s %s", path, dir,
                         stat(dir, &sb) != 0 ? "does not exist" : "is not a folder");
    return DF_OK;
}

df_status df__commit(df_ctx *ctx, const char *tmp, const char *path)
{
    char target[PATH_MAX + 1];
    struct stat sb;
    if (df__parts.index > 0) /* MPI: rank 0 writes the outputs, the other ranks nothing (engine/parts.c) */
        return unlink(tmp), DF_OK;
    /* again at the end: what stands at path now is what is replaced */
    df_status st = target_of(ctx, path, target, sizeof target, &sb, 0);
    if (st != DF_OK) {
        unlink(tmp);
        return st;
    }
    if (S_ISREG(sb.st_mode) && chmod(tmp, sb.st_mode & 07777) != 0) { /* a 0600 file stays 0600 */
        int e = errno;
        unlink(tmp);
        return df__error(ctx, DF_EIO, "cannot give %s the mode of %s: %s", tmp, path, strerror(e));
    }
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* the data reaches the disk before the name points at it */
        close(fd);
    }
    if (rename(tmp, target) != 0) {
        int e = errno;
        unlink(tmp);
        return df__error(ctx, DF_EIO, "cannot rename %s to %s: %s", tmp, target, strerror(e));
    }
    return DF_OK;
}

df_status df__commit_file(df_ctx *ctx, FILE *f, const char *tmp, const char *path)
{
    if (ferror(f) | (fclose(f) != 0)) {
        int e = errno;
        unlink(tmp);
        return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return df__commit(ctx, tmp, path);
}

df_status df__commit_dataset(df_ctx *ctx, void *ds, const char *tmp, const char *path, df_status st)
{
    if (ds) {
        CPLErrorReset();
        GDALClose((GDALDatasetH)ds); /* flushes; GDAL 3.6 reports a failure only as an error */
        if (st == DF_OK && CPLGetLastErrorType() >= CE_Failure)
            st = df__error(ctx, DF_EIO, "cannot finish %s: %s", path, df__gdal_error(ctx));
    }
    if (st != DF_OK) {
        unlink(tmp);
        return st;
    }
    return df__commit(ctx, tmp, path);
}

/* ---- a layer into an existing GeoPackage --------------------------------- */

/* Copy the file src to dst (a new file); 0 or an errno. */
static int copy_file(const char *src, const char *dst)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY), out = in >= 0 ? open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1, e = 0;
    ssize_t n = 0;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t done = 0, w; done < n; done += w)
            if ((w = write(out, buf + done, (size_t)(n - done))) < 0) {
                n = -1;
                break;
            }
    if (in < 0 || out < 0 || n < 0) e = errno ? errno : EIO;
    if (out >= 0 && close(out) != 0 && !e) e = errno;
    if (in >= 0) close(in);
    return e;
}

/* The tables of a GeoPackage (features, tiles, attributes) other than the
 * ones in `replace`: how many, and the first in *first. */
static int other_tables(GDALDatasetH ds, const char *const *replace, char *first, size_t cap)
{
    int n = 0;
    OGRLayerH rs = GDALDatasetExecuteSQL(ds, "SELECT table_name FROM gpkg_contents", NULL, NULL);
    OGRFeatureH f;
    while (rs && (f = OGR_L_GetNextFeature(rs))) {
        const char *name = OGR_F_GetFieldAsString(f, 0);
        int ours = 0;
        for (const char *const *r = replace; r && *r; r++) ours |= !strcasecmp(name, *r);
        if (!ours && n++ == 0) snprintf(first, cap, "%s", name);
        OGR_F_Destroy(f);
    }
    if (rs) GDALDatasetReleaseResultSet(ds, rs);
    return n;
}

void *df__create_vector(df_ctx *ctx, const char *driver, const char *tmp, const char *path, const char *const *replace)
{
    GDALDriverH drv = GDALGetDriverByName(driver);
    if (!drv) return df__error(ctx, DF_EGDAL, "GDAL has no %s driver", driver), NULL;
    char target[PATH_MAX + 1], first[256] = "";
    struct stat sb;
    int others = 0;
    if (!strcasecmp(driver, "GPKG") && target_of(ctx, path, target, sizeof target, &sb, 0) == DF_OK &&
        S_ISREG(sb.st_mode)) {
        static const char *const gpkg_only[] = {"GPKG", NULL};
        GDALDatasetH old =
            GDALOpenEx(target, GDAL_OF_VECTOR | GDAL_OF_RASTER | GDAL_OF_READONLY, gpkg_only, NULL, NULL);
        if (old) others = other_tables(old, replace, first, sizeof first), GDALClose(old);
        CPLErrorReset(); /* a file that is not a GeoPackage is replaced as any output */
    }
    if (!others) {
        GDALDatasetH ds = GDALCreate(drv, tmp, 0, 0, 0, GDT_Unknown, NULL);
        if (!ds) df__error(ctx, DF_EGDAL, "cannot create %s: %s", path, df__gdal_error(ctx));
        return ds;
    }
    /* it holds other layers: they are kept; ours is replaced, in a copy that
     * is renamed into place when complete */
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", target);
    if (access(wal, F_OK) == 0)
        return df__error(ctx, DF_EIO,
                         "%s is open in another program (%s exists): close it first; its other layers are kept, "
                         "so it must not change while dispflow copies it",
                         path, wal),
               NULL;
    int e = copy_file(target, tmp);
    if (e) {
        unlink(tmp);
        return df__error(ctx, DF_EIO, "cannot copy %s to %s: %s", path, tmp, strerror(e)), NULL;
    }
    GDALDatasetH ds = GDALOpenEx(tmp, GDAL_OF_VECTOR | GDAL_OF_UPDATE, (const char *const[]){"GPKG", NULL}, NULL, NULL);
    for (int i = ds ? GDALDatasetGetLayerCount(ds) - 1 : -1; i >= 0; i--) {
        const char *name = OGR_L_GetName(GDALDatasetGetLayer(ds, i));
        for (const char *const *r = replace; r && *r; r++)
            if (!strcasecmp(name, *r) && GDALDatasetDeleteLayer(ds, i) != OGRERR_NONE) {
                df__error(ctx, DF_EGDAL, "%s: cannot replace the layer %s: %s", path, *r, df__gdal_error(ctx));
                GDALClose(ds);
                unlink(tmp);
                return NULL;
            }
    }
    if (!ds) {
        df__error(ctx, DF_EGDAL, "cannot update a copy of %s: %s", path, df__gdal_error(ctx));
        unlink(tmp);
        return NULL;
    }
    df__log(ctx, DF_LOG_INFO, "%s is a GeoPackage with %d other table%s (%s%s): %s written into it, the others kept",
            path, others, others > 1 ? "s" : "", first, others > 1 ? ", ..." : "", replace && *replace ? *replace : "");
    return ds;
}

/* ---- outputs that would destroy an input or each other ------------------- */

/* What a path names: its device and inode when it exists, and its resolved
 * path (the folder resolved, the name as given when it does not exist). */
typedef struct {
    const char *path;
    int exists;
    dev_t dev;
    ino_t ino;
    char resolved[PATH_MAX + 1];
} file_id;

static void identify(const char *path, file_id *id)
{
    struct stat sb;
    char dir[PATH_MAX + 1];
    memset(id, 0, sizeof *id);
    id->path = path;
    if (stat(path, &sb) == 0) id->exists = 1, id->dev = sb.st_dev, id->ino = sb.st_ino;
    if (realpath(path, id->resolved)) return;
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    char *real = realpath(dir, NULL);
    if (snprintf(id->resolved, sizeof id->resolved, "%s/%s", real ? real : dir, slash ? slash + 1 : path) >=
        (int)sizeof id->resolved)
        snprintf(id->resolved, sizeof id->resolved, "%s", path); /* too long to resolve: as given */
    free(real);
}

static int same_file(const file_id *a, const file_id *b)
{
    if (a->exists && b->exists) return a->dev == b->dev && a->ino == b->ino;
    return strcmp(a->resolved, b->resolved) == 0;
}

static int skipped(const char *path) { return !path || !path[0] || !strcmp(path, "-") || df__is_database(path); }

df_status df_outputs_check(df_ctx *ctx, const char *const *inputs, int ninputs, const char *const *outputs,
                           int noutputs)
{
    static const char *const shapefile_parts[] = {".shx", ".dbf", ".prj", ".cpg"};
    df_status st = DF_OK;
    int nin = 0, nout = 0;
    file_id *in = calloc((size_t)ninputs * 5 + 1, sizeof *in), *out = calloc((size_t)noutputs + 1, sizeof *out);
    char(*parts)[PATH_MAX + 1] = calloc((size_t)ninputs * 4 + 1, sizeof *parts);
    if (!in || !out || !parts) {
        st = df__error(ctx, DF_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ninputs; i++) {
        if (skipped(inputs[i])) continue;
        identify(inputs[i], &in[nin++]);
        size_t n = strlen(inputs[i]);
        if (n < 4 || strcasecmp(inputs[i] + n - 4, ".shp") != 0) continue;
        for (int k = 0; k < 4; k++) { /* a shapefile is its parts too */
            char *part = parts[i * 4 + k];
            snprintf(part, PATH_MAX + 1, "%.*s%s", (int)(n - 4), inputs[i], shapefile_parts[k]);
            identify(part, &in[nin++]);
        }
    }
    for (int o = 0; st == DF_OK && o < noutputs; o++) {
        if (skipped(outputs[o])) continue;
        char target[PATH_MAX + 1];
        struct stat sb;
        if ((st = target_of(ctx, outputs[o], target, sizeof target, &sb, 0)) != DF_OK) break;
        file_id *id = &out[nout];
        identify(outputs[o], id);
        for (int i = 0; st == DF_OK && i < nin; i++)
            if (same_file(id, &in[i]))
                st = df__error(ctx, DF_EINVAL,
                               "the output %s is the input %s (the same file): refused before any work, the input "
                               "would be lost; write the output elsewhere",
                               outputs[o], in[i].path);
        for (int k = 0; st == DF_OK && k < nout; k++)
            if (same_file(id, &out[k]))
                st = df__error(ctx, DF_EINVAL,
                               "the outputs %s and %s are the same file: refused before any work, one would "
                               "replace the other; give each its own name",
                               out[k].path, outputs[o]);
        nout++;
    }
done:
    free(in);
    free(out);
    free(parts);
    return st;
}
