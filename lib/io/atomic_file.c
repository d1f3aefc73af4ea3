#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO; /* no progress and no reason: do not spin */
            return -1;
        }
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

/* The rename survives a crash only once the directory is synced too.
 * Filesystems that cannot sync a directory say EINVAL: nothing more to do. */
static int sync_parent(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, size, ".");
    else if (slash == path) snprintf(dir, size, "/");
    else snprintf(dir, size, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int ok = fsync(fd) == 0 || errno == EINVAL;
    int err = errno;
    close(fd);
    errno = err;
    return ok ? 0 : -1;
}

nn_status nn_write_file_atomic(const char *path, const nn_file_part *parts, int n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return nn_error(NN_ERR_RUNTIME, "%s: cannot create `%s`: %s", path, tmp, strerror(errno));
    /* The first step that failed, if any. */
    const char *failed = NULL;
    for (int i = 0; !failed && i < n; i++)
        if (parts[i].size && write_all(fd, parts[i].data, parts[i].size)) failed = "write";
    if (!failed && fsync(fd)) failed = "sync";
    int err = errno;
    /* close() can report a deferred write error (NFS, quota): it counts. */
    if (close(fd) && !failed) failed = "close", err = errno;
    if (failed) {
        unlink(tmp);
        return nn_error(NN_ERR_RUNTIME, "%s: cannot %s `%s`: %s", path, failed, tmp, strerror(err));
    }
    if (rename(tmp, path)) {
        err = errno;
        unlink(tmp);
        return nn_error(NN_ERR_RUNTIME, "%s: cannot rename `%s` over it: %s", path, tmp, strerror(err));
    }
    /* The new file is in place; failing here means only that the rename
     * might not survive a crash, but the caller should know. */
    char dir[4096];
    if (sync_parent(path, dir, sizeof dir))
        return nn_error(NN_ERR_RUNTIME, "%s: written, but cannot sync directory `%s`: %s", path, dir,
                        strerror(errno));
    return NN_OK;
}
