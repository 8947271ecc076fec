/*
 * jsonl-c: an example cano-collector destination plugin in plain C.
 *
 * It appends every Issue it receives, as one JSON line, to the file named by its
 * config ({"path": "/var/lib/cano-collector/issues.jsonl"}), and returns the byte
 * offset of that line as the delivery reference. Small on purpose: it shows every part
 * of the ABI a real destination (PagerDuty, Opsgenie...) needs, without a network
 * library in the way. Build: see the Makefile next to this file.
 *
 * Only `cano_plugin_entry` is exported (everything else is `static`, and the Makefile
 * adds -fvisibility=hidden), so nothing in here can interpose on the host or on another
 * plugin.
 */
#include "cano_plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLUGIN_NAME "jsonl-c"
#define PLUGIN_VERSION "1.0.0"
#define EXPORT __attribute__((visibility("default")))

/* One configured destination. The host may create several from one .so. */
typedef struct instance {
    char *path;
    const cano_host_services *host; /* valid until destroy() */
} instance;

/* ---- result helpers: every buffer handed to the host comes from malloc, and the host
 * releases it with our free_buffer (which is free). ---------------------------------- */

static cano_buffer buffer_from(const char *text, size_t len) {
    cano_buffer b = {NULL, 0};
    if (len == 0) return b;
    b.ptr = malloc(len);
    if (b.ptr == NULL) return b; /* out of memory: an empty message is still a valid result */
    memcpy(b.ptr, text, len);
    b.len = len;
    return b;
}

static void set_result(cano_result *result, cano_status status, const char *message) {
    result->status = status;
    result->retry_after_ms = CANO_RETRY_AFTER_NONE;
    result->message = buffer_from(message, strlen(message));
}

static void host_log(const cano_host_services *host, cano_log_level level, const char *message) {
    if (host == NULL || host->log == NULL) return;
    cano_bytes m = {(const uint8_t *)message, strlen(message)};
    cano_bytes fields = {NULL, 0};
    host->log(host->host_ctx, level, m, fields);
}

/* ---- config: the host hands us a JSON object. A real plugin would use a JSON library;
 * this one only needs the top-level string "path", so a careful scanner does. -------- */

static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Scans a JSON string starting at the opening quote. Writes the unescaped value to *out
 * (malloc'd) when out != NULL. Returns the position after the closing quote, or NULL. */
static const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, char **out) {
    if (p >= end || *p != '"') return NULL;
    p++;
    char *value = out ? malloc((size_t)(end - p) + 1) : NULL;
    size_t n = 0;
    if (out && value == NULL) return NULL;
    while (p < end && *p != '"') {
        uint8_t c = *p++;
        if (c == '\\') {
            if (p >= end) break;
            c = *p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': /* \uXXXX is not needed for file paths: refuse rather than guess */
                free(value);
                return NULL;
            default: break; /* \" \\ \/ stand for themselves */
            }
        }
        if (value) value[n++] = (char)c;
    }
    if (p >= end) { free(value); return NULL; }
    if (value) { value[n] = '\0'; *out = value; }
    return p + 1;
}

/* Skips one JSON value of any type (objects and arrays by bracket depth). */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end) {
    p = skip_ws(p, end);
    if (p >= end) return NULL;
    if (*p == '"') return scan_string(p, end, NULL);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') { p = scan_string(p, end, NULL); if (!p) return NULL; continue; }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') { depth--; if (depth == 0) return p + 1; }
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']') p++; /* number, true, false, null */
    return p;
}

/* Finds the top-level string member `key`. Returns 0 and a malloc'd *out when found,
 * 1 when absent, -1 when the JSON is malformed or the member is not a string. */
static int json_get_string(cano_bytes json, const char *key, char **out) {
    const uint8_t *p = json.ptr, *end = json.ptr + json.len;
    if (json.len == 0) return 1;
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return 1;
    while (p < end) {
        char *name = NULL;
        p = scan_string(p, end, &name);
        if (!p) return -1;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') { free(name); return -1; }
        p = skip_ws(p + 1, end);
        int match = strcmp(name, key) == 0;
        free(name);
        if (match) {
            if (p >= end || *p != '"') return -1;
            return scan_string(p, end, out) ? 0 : -1;
        }
        p = skip_value(p, end);
        if (!p) return -1;
        p = skip_ws(p, end);
        if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
        if (p < end && *p == '}') return 1;
        return -1;
    }
    return -1;
}

/* ---- the descriptor's functions --------------------------------------------------- */

static void jsonl_create(cano_bytes config_json, const cano_host_services *host,
                         void **instance_out, cano_result *result) {
    char *path = NULL;
    int rc = json_get_string(config_json, "path", &path);
    if (rc != 0) {
        set_result(result, CANO_STATUS_PERMANENT,
                   rc < 0 ? "config: \"path\" must be a string in a JSON object"
                          : "config: missing required key \"path\" (the file to append Issues to)");
        return;
    }
    if (path[0] != '/') {
        free(path);
        set_result(result, CANO_STATUS_PERMANENT, "config: \"path\" must be an absolute file path");
        return;
    }
    /* Validate only (no slow I/O in create): the directory must exist. */
    char *slash = strrchr(path, '/');
    struct stat st;
    *slash = '\0';
    int dir_ok = stat(path[0] ? path : "/", &st) == 0 && S_ISDIR(st.st_mode);
    *slash = '/';
    if (!dir_ok) {
        free(path);
        set_result(result, CANO_STATUS_PERMANENT, "config: the directory of \"path\" does not exist");
        return;
    }
    instance *self = calloc(1, sizeof *self);
    if (self == NULL) {
        free(path);
        set_result(result, CANO_STATUS_RETRY, "out of memory");
        return;
    }
    self->path = path;
    self->host = host;
    *instance_out = self;
    host_log(host, CANO_LOG_INFO, "jsonl-c destination ready");
    set_result(result, CANO_STATUS_OK, "created");
}

static void jsonl_deliver(void *opaque, cano_bytes issue_json, const cano_call_context *context,
                          cano_result *result) {
    instance *self = opaque;
    if (self == NULL || issue_json.len == 0 || issue_json.ptr[0] != '{') {
        set_result(result, CANO_STATUS_PERMANENT, "the Issue is not a JSON object");
        return;
    }
    /* One write() of the whole line with O_APPEND: concurrent writers never interleave. */
    int fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int transient = errno == ENOSPC || errno == EINTR || errno == EMFILE || errno == ENFILE || errno == EIO;
        set_result(result, transient ? CANO_STATUS_RETRY : CANO_STATUS_PERMANENT,
                   transient ? "cannot open the output file (transient)" : "cannot open the output file");
        return;
    }
    size_t len = issue_json.len + 1;
    char *line = malloc(len);
    if (line == NULL) {
        close(fd);
        set_result(result, CANO_STATUS_RETRY, "out of memory");
        return;
    }
    memcpy(line, issue_json.ptr, issue_json.len);
    line[issue_json.len] = '\n';
    off_t offset = lseek(fd, 0, SEEK_END);
    ssize_t written = write(fd, line, len);
    free(line);
    int write_errno = errno;
    close(fd);
    if (written != (ssize_t)len) {
        set_result(result, CANO_STATUS_RETRY,
                   write_errno == ENOSPC ? "disk full while appending the Issue" : "short write while appending the Issue");
        return;
    }
    /* The reference the host stores for this fingerprint: where the first line went.
     * On a resolve the host hands it back in context->reference; we keep it. */
    char reference[64];
    if (context != NULL && context->reference.len > 0 && context->reference.len < sizeof reference) {
        memcpy(reference, context->reference.ptr, context->reference.len);
        reference[context->reference.len] = '\0';
    } else {
        snprintf(reference, sizeof reference, "offset:%lld", (long long)offset);
    }
    if (self->host && self->host->counter_add) {
        cano_bytes name = {(const uint8_t *)"lines_written", strlen("lines_written")};
        self->host->counter_add(self->host->host_ctx, name, 1);
    }
    set_result(result, CANO_STATUS_OK, "appended");
    result->reference = buffer_from(reference, strlen(reference));
}

static void jsonl_destroy(void *opaque) {
    instance *self = opaque;
    if (self == NULL) return;
    free(self->path);
    free(self);
}

static void jsonl_free_buffer(void *ptr) { free(ptr); }

static const cano_plugin_descriptor descriptor = {
    .struct_size = sizeof(cano_plugin_descriptor),
    .abi_major = CANO_ABI_MAJOR,
    .abi_minor = 0, /* the lowest minor whose fields this plugin uses: v1.0 hosts load it too */
    .kind = CANO_KIND_DESTINATION,
    .reserved0 = 0,
    .flags = 0, /* calls on one instance are serialised by the host */
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .toolchain = NULL, /* only Swift plugins name a toolchain */
    .create = jsonl_create,
    .deliver = jsonl_deliver,
    .enrich = NULL,
    .destroy = jsonl_destroy,
    .free_buffer = jsonl_free_buffer,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
