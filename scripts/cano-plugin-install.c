/*
 * cano-plugin-install SRC_DIR DEST_DIR: copies every regular file of SRC_DIR into DEST_DIR
 * (created if missing), each through a temporary file and rename(), mode 0755.
 *
 * Plugin images are FROM scratch, with no shell or cp, so the Helm chart's init-copy
 * fallback (clusters without image volumes) runs this static binary, which every plugin
 * image carries at /cano-plugin-install (see Dockerfile.plugin).
 * Built by scripts/package-plugin.sh with `cc -static -Os`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
    fprintf(stderr, "cano-plugin-install: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static int mkdirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int copy(const char *from, const char *dir, const char *name) {
    char tmp[4096], to[4096];
    if (snprintf(to, sizeof to, "%s/%s", dir, name) >= (int)sizeof to ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return fail("cannot copy to", dir);
    }
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail("cannot read", from);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) { close(in); return fail("cannot write", tmp); }
    char buffer[65536];
    ssize_t n;
    while ((n = read(in, buffer, sizeof buffer)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buffer + done, (size_t)(n - done));
            if (w < 0) { close(in); close(out); return fail("cannot write", tmp); }
            done += w;
        }
    }
    if (n < 0) { close(in); close(out); return fail("cannot read", from); }
    close(in);
    if (fsync(out) != 0 || close(out) != 0) return fail("cannot write", tmp);
    if (rename(tmp, to) != 0) return fail("cannot rename into", to);
    printf("cano-plugin-install: %s\n", to);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC_DIR DEST_DIR\n", argv[0]);
        return 64;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) return fail("cannot open", argv[1]);
    if (mkdirs(argv[2]) != 0) return fail("cannot create", argv[2]);
    int copied = 0, rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        char from[4096];
        struct stat st;
        if (entry->d_name[0] == '.') continue;
        snprintf(from, sizeof from, "%s/%s", argv[1], entry->d_name);
        if (stat(from, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (copy(from, argv[2], entry->d_name) != 0) rc = 1;
        else copied++;
    }
    closedir(dir);
    if (copied == 0 && rc == 0) {
        fprintf(stderr, "cano-plugin-install: no files in %s\n", argv[1]);
        return 1;
    }
    return rc;
}
