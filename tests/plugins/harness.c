/*
 * A minimal fake host for plugin tests: loads a plugin .so exactly as the collector does
 * (dlopen RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE, one cano_plugin_entry lookup, descriptor
 * copied by struct_size into a zeroed struct), creates one instance from a config, delivers
 * each Issue file in order, and destroys it. Every step is printed as one JSON line on
 * stdout for tests/plugins/test_examples.py to assert on.
 *
 *   harness PLUGIN.so CONFIG_JSON [ISSUE.json ...]
 *
 * Deliveries after the first get the first delivery's reference back in
 * context.reference, as the host does for later Issues with the same fingerprint.
 * Exit status: 0 when every step ran (whatever the plugin answered), 2 when loading failed.
 */
#include "cano_plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_json_string(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_cstr_or_null(const char *s) {
    if (s) print_json_string(s, strlen(s));
    else fputs("null", stdout);
}

static void print_buffer(const cano_buffer *b) {
    if (b->ptr == NULL) fputs("null", stdout);
    else print_json_string((const char *)b->ptr, b->len);
}

/* ---- host services: log and counters are recorded; the store and Kubernetes access
 * answer "error", as a host without them would. ---------------------------------------- */

static void host_log(void *ctx, int32_t level, cano_bytes message, cano_bytes fields) {
    (void)ctx;
    (void)fields;
    printf("{\"event\":\"log\",\"level\":%d,\"message\":", level);
    print_json_string((const char *)message.ptr, message.len);
    puts("}");
}

static void host_counter_add(void *ctx, cano_bytes name, uint64_t delta) {
    (void)ctx;
    fputs("{\"event\":\"counter\",\"name\":", stdout);
    print_json_string((const char *)name.ptr, name.len);
    printf(",\"delta\":%llu}\n", (unsigned long long)delta);
}

static int32_t host_kv_get(void *ctx, cano_bytes key, cano_buffer *out) { (void)ctx; (void)key; (void)out; return -1; }
static int32_t host_kv_put(void *ctx, cano_bytes key, cano_bytes value) { (void)ctx; (void)key; (void)value; return -1; }
static int32_t host_kv_delete(void *ctx, cano_bytes key) { (void)ctx; (void)key; return -1; }
static int32_t host_kube_get(void *ctx, cano_bytes path, int32_t *status, cano_buffer *out) {
    (void)ctx; (void)path; (void)status; (void)out; return -1;
}
static void host_free_buffer(void *ctx, void *ptr) { (void)ctx; free(ptr); }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) { free(data); data = NULL; }
    fclose(f);
    /* The host sends compact JSON with no trailing newline; trim the file's. */
    while (data && size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r' || data[size - 1] == ' ')) size--;
    if (data) { data[size] = '\0'; *len = (size_t)size; }
    return data;
}

static void print_result(const char *event, const cano_result *r) {
    printf("{\"event\":\"%s\",\"status\":%d,\"retry_after_ms\":%lld,\"message\":", event, r->status,
           (long long)r->retry_after_ms);
    print_buffer(&r->message);
    fputs(",\"reference\":", stdout);
    print_buffer(&r->reference);
    puts("}");
}

static void release_result(const cano_plugin_descriptor *d, cano_result *r) {
    d->free_buffer(r->message.ptr);
    d->free_buffer(r->reference.ptr);
    d->free_buffer(r->payload.ptr);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN.so CONFIG_JSON [ISSUE.json ...]\n", argv[0]);
        return 64;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
        fputs("{\"event\":\"load_error\",\"message\":", stdout);
        const char *e = dlerror();
        print_json_string(e, strlen(e));
        puts("}");
        return 2;
    }
    cano_plugin_entry_fn entry = (cano_plugin_entry_fn)dlsym(handle, CANO_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        puts("{\"event\":\"load_error\",\"message\":\"missing symbol cano_plugin_entry\"}");
        return 2;
    }
    const cano_plugin_descriptor *raw = entry();
    if (!raw) {
        puts("{\"event\":\"load_error\",\"message\":\"cano_plugin_entry returned NULL\"}");
        return 2;
    }
    cano_plugin_descriptor d;
    memset(&d, 0, sizeof d);
    size_t n = raw->struct_size < sizeof d ? raw->struct_size : sizeof d;
    memcpy(&d, raw, n);
    printf("{\"event\":\"descriptor\",\"struct_size\":%u,\"abi_major\":%u,\"abi_minor\":%u,\"kind\":%u,"
           "\"reserved0\":%u,\"flags\":%llu,\"name\":",
           raw->struct_size, d.abi_major, d.abi_minor, d.kind, d.reserved0, (unsigned long long)d.flags);
    print_cstr_or_null(d.name);
    fputs(",\"version\":", stdout);
    print_cstr_or_null(d.version);
    fputs(",\"toolchain\":", stdout);
    print_cstr_or_null(d.toolchain);
    printf(",\"create\":%s,\"deliver\":%s,\"enrich\":%s,\"destroy\":%s,\"free_buffer\":%s}\n",
           d.create ? "true" : "false", d.deliver ? "true" : "false", d.enrich ? "true" : "false",
           d.destroy ? "true" : "false", d.free_buffer ? "true" : "false");
    if (raw->struct_size < CANO_DESCRIPTOR_V1_MIN_SIZE || d.abi_major != CANO_ABI_MAJOR || !d.create ||
        !d.destroy || !d.free_buffer || (d.kind == CANO_KIND_DESTINATION && !d.deliver)) {
        puts("{\"event\":\"load_error\",\"message\":\"descriptor refused\"}");
        return 2;
    }

    cano_host_services host = {
        .struct_size = sizeof(cano_host_services),
        .abi_major = CANO_ABI_MAJOR,
        .abi_minor = CANO_ABI_MINOR,
        .host_ctx = &host,
        .log = host_log,
        .kv_get = host_kv_get,
        .kv_put = host_kv_put,
        .kv_delete = host_kv_delete,
        .counter_add = host_counter_add,
        .kube_get = host_kube_get,
        .free_buffer = host_free_buffer,
    };
    cano_result result;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    void *instance = NULL;
    cano_bytes config = {(const uint8_t *)argv[2], strlen(argv[2])};
    d.create(config, &host, &instance, &result);
    print_result("create", &result);
    release_result(&d, &result);
    if (result.status != CANO_STATUS_OK) return 0;

    char *first_reference = NULL;
    size_t first_reference_len = 0;
    for (int i = 3; i < argc; i++) {
        size_t len = 0;
        char *issue = read_file(argv[i], &len);
        if (!issue) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 2;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char key[64];
        snprintf(key, sizeof key, "harness-%d", i);
        cano_call_context context = {
            .struct_size = sizeof context,
            .attempt = 1,
            .deadline_unix_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + 15000,
            .idempotency_key = {(const uint8_t *)key, strlen(key)},
            .reference = {(const uint8_t *)first_reference, first_reference_len},
        };
        memset(&result, 0, sizeof result);
        result.struct_size = sizeof result;
        d.deliver(instance, (cano_bytes){(const uint8_t *)issue, len}, &context, &result);
        print_result("deliver", &result);
        if (!first_reference && result.status == CANO_STATUS_OK && result.reference.ptr) {
            first_reference = malloc(result.reference.len);
            memcpy(first_reference, result.reference.ptr, result.reference.len);
            first_reference_len = result.reference.len;
        }
        release_result(&d, &result);
        free(issue);
    }
    d.destroy(instance);
    puts("{\"event\":\"destroy\"}");
    free(first_reference);
    return 0;
}
