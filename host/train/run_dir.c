/* Run directory ownership (train/run_dir.h). */
#include "run_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* DFL_EUSAGE naming the holder of the lock `f` on `path`. */
static dfl_status busy(int f, const char *dir, const char *path) {
    /* the holder writes its line right after locking; an empty read means
     * it is in between */
    char who[300] = "";
    ssize_t n = pread(f, who, sizeof who - 1, 0);
    long pid = 0;
    char host[256] = "?";
    if (n > 0) {
        who[n] = 0;
        if (sscanf(who, "%ld %255s", &pid, host) < 1) pid = 0;
    }
    if (pid > 0)
        return dfl_fail(DFL_EUSAGE,
                        "%s is in use by another training run (pid %ld on host %s, lock %s); wait for it to end or "
                        "choose another --out",
                        dir, pid, host, path);
    return dfl_fail(DFL_EUSAGE,
                    "%s is in use by another training run (lock %s held, holder not yet known); wait for it to end "
                    "or choose another --out",
                    dir, path);
}

dfl_status dfl_run_dir_lock(const char *dir, int *fd) {
    *fd = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot open the run lock: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        dfl_status s = DFL_OK;
        if (err == EWOULDBLOCK)
            s = busy(f, dir, path);
        else if (err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP) /* e.g. Lustre mounted without flock */
            dfl_warn("%s: the file system offers no locks (%s): nothing stops a second run on %s", path, strerror(err),
                     dir);
        else
            s = dfl_fail(DFL_EUSAGE, "%s: cannot lock: %s", path, strerror(err));
        close(f);
        return s;
    }
    char host[256] = "?";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = 0;
    char line[300];
    int len = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), host);
    /* the lock holds without the line (e.g. on a full disk); only the
     * message of a second run loses the pid */
    if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)len, 0) != (ssize_t)len)
        dfl_warn("%s: cannot write the holder's pid and host: %s", path, strerror(errno));
    *fd = f;
    return DFL_OK;
}

dfl_status dfl_run_dir_probe(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) return DFL_OK; /* never locked */
    dfl_status s = DFL_OK;
    if (flock(f, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) s = busy(f, dir, path);
    } else {
        flock(f, LOCK_UN);
    }
    close(f);
    return s;
}

void dfl_run_dir_unlock(int fd) {
    if (fd < 0) return;
    /* empty before unlocking: a later holder writes its own line */
    if (ftruncate(fd, 0) != 0) dfl_warn("run lock: cannot clear the holder line: %s", strerror(errno));
    flock(fd, LOCK_UN);
    close(fd);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

dfl_status dfl_run_dir_fresh(const char *dir, const char *ckpt_path, int force) {
    if (!exists(ckpt_path)) return DFL_OK;
    if (!force)
        return dfl_fail(DFL_EUSAGE,
                        "%s already exists: continue that run with --resume, or start over with --force (the old "
                        "checkpoint and metrics are kept as *.old-<UTC time>)",
                        ckpt_path);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    static const char *const names[] = {"ckpt.h5", "metrics.jsonl", "config.ini"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        char from[4200], to[4300];
        snprintf(from, sizeof from, "%s/%s", dir, names[i]);
        if (!exists(from)) continue;
        snprintf(to, sizeof to, "%s.old-%s", from, stamp);
        for (int k = 1; exists(to); ++k) snprintf(to, sizeof to, "%s.old-%s-%d", from, stamp, k);
        if (rename(from, to) != 0)
            return dfl_fail(DFL_EINTERNAL, "--force: cannot rename %s to %s: %s", from, to, strerror(errno));
        fprintf(stderr, "dynfill train: --force: kept the previous %s as %s\n", from, to);
    }
    return DFL_OK;
}
