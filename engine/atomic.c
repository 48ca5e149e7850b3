/*
 * atomic.c — outputs are written to a temporary file beside the target and
 * renamed into place only when complete, so a reader never sees half a file
 * and a failed run leaves the previous output untouched.
 */
#include "dfint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>

df_status df__temp_path(df_ctx *ctx, const char *path, char *tmp, size_t cap)
{
    static _Atomic unsigned counter;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    int baselen = dot ? (int)(dot - base) : (int)strlen(base);
    int n = snprintf(tmp, cap, "%.*s.%.*s.tmp-%ld-%u%s", dirlen, path, baselen, base, (long)getpid(), counter++,
                     dot ? dot : "");
    if (n < 0 || (size_t)n >= cap) return df__error(ctx, DF_EINVAL, "output path too long: %s", path);
    /* a missing folder: named, not the temporary file (issue 17 item 21) */
    char dir[4096];
    struct stat sb;
    snprintf(dir, sizeof dir, "%.*s", dirlen > 1 ? dirlen - 1 : 1, dirlen ? path : ".");
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return df__error(ctx, DF_EIO, "cannot write %s: the folder %s %s", path, dir,
                         stat(dir, &sb) != 0 ? "does not exist" : "is not a folder");
    return DF_OK;
}

df_status df__commit(df_ctx *ctx, const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* the data reaches the disk before the name points at it */
        close(fd);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return df__error(ctx, DF_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
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
