/*
 * cano_plugin.h: the cano-collector plugin ABI, version 1.3.
 *
 * This header is the whole contract between the cano-collector host and a plugin
 * (a destination or an enricher) loaded with dlopen. It depends on nothing but the C
 * standard library, so a plugin can be written in C, Rust, Go or Swift.
 * docs/plugin-abi.md explains the rules below at more length, with examples.
 *
 * ------------------------------------------------------------------------------------
 * LOADING
 *   The host dlopen()s the file with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE and looks up
 *   one function symbol, CANO_PLUGIN_ENTRY_SYMBOL ("cano_plugin_entry"). It calls it once
 *   and reads the descriptor it returns. The host never dlclose()s a plugin: Swift and Go
 *   images cannot be unloaded safely, and libcurl resolver threads may outlive a call.
 *
 * VERSIONING
 *   - abi_major must equal the host's CANO_ABI_MAJOR, or the plugin is refused.
 *   - abi_minor may be lower than the host's (older plugin, newer host). A plugin with a
 *     newer minor than the host is refused: it may rely on host services the host lacks.
 *   - Every struct starts with `struct_size`, set by whoever fills it in. Fields are only
 *     ever appended. A reader copies min(struct_size, its own sizeof) bytes into a zeroed
 *     struct, so new fields read as zero/NULL for old writers. The host also reads a
 *     descriptor field added in minor N only when abi_minor >= N: a plugin of an older
 *     minor may set struct_size larger and keep its own data past the fields it knows.
 *   - A descriptor whose struct_size is smaller than CANO_DESCRIPTOR_V1_MIN_SIZE, or whose
 *     kind is unknown, is refused.
 *   - Swift plugins set `toolchain` to the Swift compiler version they were built with
 *     ("swift-6.3"). Swift has no stable ABI on Linux, so the host refuses a Swift plugin
 *     built with another toolchain. C, Rust and Go plugins set it to NULL.
 *   - The Issue JSON schema is versioned separately: see the "schemaVersion" field.
 *
 * MEMORY OWNERSHIP
 *   - cano_bytes is BORROWED: valid only for the duration of the call that receives it.
 *     Copy what you need to keep. It is not NUL-terminated.
 *   - cano_buffer is OWNED by whoever allocated it and must be released by that side's
 *     free function:
 *       * buffers a plugin returns (result message, reference, payload, create error)
 *         are freed by the host with the descriptor's free_buffer();
 *       * buffers the host returns (kv_get, kube_get) are freed by the plugin with the
 *         host services' free_buffer().
 *   - Strings in the descriptor (name, version, toolchain) are static, NUL-terminated
 *     UTF-8, and must live as long as the process.
 *
 * THREADING
 *   - The host calls plugins only from its own dedicated delivery threads (ordinary OS
 *     threads with at least 1 MiB of stack), never from an async runtime's worker pool,
 *     so a plugin may block (for example in libcurl) until the deadline.
 *   - create() and destroy() are never called concurrently with any other call on the
 *     same instance.
 *   - deliver() and enrich() calls on one instance are serialised unless the descriptor
 *     sets CANO_FLAG_REENTRANT.
 *   - Host services may be called from any thread, between create() returning and
 *     destroy() being called.
 *   - The host owns process-wide setup: it calls curl_global_init() before loading any
 *     plugin. Plugins must not call curl_global_init() or curl_global_cleanup().
 *   - A plugin must not install signal handlers, call exit(), or let a panic/exception
 *     unwind across this boundary (Rust: catch_unwind; Go: recover; Swift: avoid traps).
 * ------------------------------------------------------------------------------------
 */
#ifndef CANO_PLUGIN_H
#define CANO_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CANO_ABI_MAJOR 1
#define CANO_ABI_MINOR 3

/** The one symbol a plugin exports. */
#define CANO_PLUGIN_ENTRY_SYMBOL "cano_plugin_entry"

/** A read-only byte range owned by the caller, valid only during the call. */
typedef struct cano_bytes {
    const uint8_t *ptr;
    size_t len;
} cano_bytes;

/** A byte range owned by the side that allocated it; see MEMORY OWNERSHIP above. */
typedef struct cano_buffer {
    uint8_t *ptr;
    size_t len;
} cano_buffer;

/** What a plugin does. */
typedef enum cano_plugin_kind {
    CANO_KIND_DESTINATION = 1, /**< delivers Issues somewhere (Slack, a webhook, ...) */
    CANO_KIND_ENRICHER = 2     /**< adds context blocks to an Issue before routing */
} cano_plugin_kind;

/**
 * The outcome of create(), deliver() and enrich().
 * 0 is deliberately not a valid status: a plugin that forgets to set one, or returns
 * garbage, is treated as CANO_STATUS_RETRY ("fail safe"): the host keeps the Issue and
 * retries it until the destination's max attempts, then dead-letters it. Nothing is lost.
 */
typedef enum cano_status {
    CANO_STATUS_OK = 1,        /**< delivered / created / enriched */
    CANO_STATUS_RETRY = 2,     /**< transient failure: the host retries with backoff */
    CANO_STATUS_PERMANENT = 3  /**< will never succeed as is: the host dead-letters it */
} cano_status;

/** Log levels for cano_host_services.log. */
typedef enum cano_log_level {
    CANO_LOG_DEBUG = 0,
    CANO_LOG_INFO = 1,
    CANO_LOG_WARNING = 2,
    CANO_LOG_ERROR = 3
} cano_log_level;

/** retry_after_ms value meaning "no hint: use the host's backoff". */
#define CANO_RETRY_AFTER_NONE (-1)

/** Descriptor flag: deliver()/enrich() may run concurrently on one instance. */
#define CANO_FLAG_REENTRANT ((uint64_t)1 << 0)

/**
 * Descriptor capability (v1.2): the destination renders grouped Issues (`"type": "group"`
 * with a `group` object, see docs/issue.schema.json). Without it the host never sends one:
 * it delivers each member of a group as an Issue of its own, as it always has. Unknown
 * bits are ignored, so a plugin may set bits a later host defines.
 */
#define CANO_CAPABILITY_GROUPS ((uint64_t)1 << 0)

/**
 * cano_host_services.create_flags (v1.1): this create() only checks the config. The host
 * (`cano-collector validate`) destroys the instance right after, without any other call.
 * Skip credential checks, network I/O and background work; report config errors as usual.
 * A v1.0 host never sets it (the field reads as zero).
 */
#define CANO_CREATE_VALIDATE_ONLY ((uint64_t)1 << 0)

/**
 * Services the host offers to a plugin instance. Passed to create(); valid until
 * destroy() returns. Every function takes `host_ctx` as its first argument: pass back
 * the value from this struct. Check struct_size before using a field added after v1.0.
 *
 * Return values of the int32_t functions: 0 success, 1 not found (kv_get), -1 error.
 */
typedef struct cano_host_services {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /** Opaque, instance-scoped; pass it back to every function below. */
    void *host_ctx;

    /** Writes one structured log line. fields_json is a JSON object or empty. */
    void (*log)(void *host_ctx, int32_t level, cano_bytes message, cano_bytes fields_json);

    /**
     * A small persistent key-value store scoped to this plugin instance (its destination
     * name), kept in the host's database across restarts. Values up to 64 KiB.
     * kv_get fills *value_out with a host-owned buffer (free with free_buffer).
     */
    int32_t (*kv_get)(void *host_ctx, cano_bytes key, cano_buffer *value_out);
    int32_t (*kv_put)(void *host_ctx, cano_bytes key, cano_bytes value);
    int32_t (*kv_delete)(void *host_ctx, cano_bytes key);

    /**
     * Adds delta to a counter exported on /metrics as
     * cano_plugin_<name>_total{destination="<instance>"}. name: [a-z0-9_]+.
     */
    void (*counter_add)(void *host_ctx, cano_bytes name, uint64_t delta);

    /**
     * Read-only Kubernetes GET of an API path ("/api/v1/namespaces/x/pods/y/log?tailLines=50"),
     * made with the host's credentials, so a plugin never handles them. Fills *body_out
     * with a host-owned buffer and *http_status_out with the HTTP status. Returns -1 when
     * the host has no cluster access or the path is not allowed.
     */
    int32_t (*kube_get)(void *host_ctx, cano_bytes path, int32_t *http_status_out, cano_buffer *body_out);

    /** Frees a buffer the host handed out (kv_get, kube_get). NULL is a no-op. */
    void (*free_buffer)(void *host_ctx, void *ptr);

    /* ---- v1.1 (check struct_size before reading; a v1.0 host does not have it) ---- */

    /** CANO_CREATE_* flags for the create() call this table is passed to. */
    uint64_t create_flags;
} cano_host_services;

/** Per-call context for deliver() and enrich(). */
typedef struct cano_call_context {
    uint32_t struct_size;
    uint32_t attempt;            /**< 1 for the first try of this delivery */
    int64_t deadline_unix_ms;    /**< give up (and return RETRY) by this wall-clock time */
    /**
     * Stable across retries and restarts for one (destination, fingerprint, status,
     * startsAt): use it where a service deduplicates single requests (Idempotency-Key).
     * It changes with status, so it is NOT an incident key: key incidents (PagerDuty's
     * dedup_key) on the Issue's fingerprint, and keep the remote id in `reference`.
     */
    cano_bytes idempotency_key;
    /**
     * The reference this plugin returned for the first delivery of the same fingerprint
     * (a message id, a thread ts...), or empty. Lets a resolve update the original.
     */
    cano_bytes reference;
} cano_call_context;

/**
 * Filled in by the plugin. Before each call the host zeroes the whole struct, then sets
 * struct_size = sizeof(cano_result) and retry_after_ms = CANO_RETRY_AFTER_NONE (-1); so
 * status starts at 0 (invalid: the plugin must set it) and every buffer starts empty.
 */
typedef struct cano_result {
    uint32_t struct_size;
    int32_t status;          /**< a cano_status */
    int64_t retry_after_ms;  /**< with RETRY: wait at least this long; else CANO_RETRY_AFTER_NONE */
    /** Human-readable outcome or error, UTF-8. Must not contain secrets. Plugin-owned. */
    cano_buffer message;
    /** deliver(): an opaque reference to store for this fingerprint. Plugin-owned. */
    cano_buffer reference;
    /** enrich(): a JSON array of enrichments (see docs/issue.schema.json). Plugin-owned. */
    cano_buffer payload;
} cano_result;

/** The plugin's self-description, returned by cano_plugin_entry(). */
typedef struct cano_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t kind;               /**< a cano_plugin_kind */
    uint32_t reserved0;          /**< zero */
    uint64_t flags;              /**< CANO_FLAG_* */
    const char *name;            /**< plugin type name, e.g. "webhook": [a-z0-9_-]+ */
    const char *version;         /**< the plugin's own version, e.g. "1.2.0" */
    const char *toolchain;       /**< "swift-6.3" for Swift plugins; NULL otherwise */

    /**
     * Creates an instance from its config (a JSON object: the destination's `config`
     * block from the host's YAML). On success sets *instance_out, sets result->status to
     * CANO_STATUS_OK. On failure sets status and result->message, and the host marks only
     * this destination unready and calls create() again later, with backoff (a Secret
     * mounted late, a token rotated). Validate and prepare; the only I/O allowed is one
     * cheap, bounded (a few seconds) credential check such as Slack's auth.test, skipped
     * when host->create_flags has CANO_CREATE_VALIDATE_ONLY. Fail create only when the
     * service rejects the credential; when it cannot be reached, log and succeed: the
     * deliveries retry on their own.
     */
    void (*create)(cano_bytes config_json, const cano_host_services *host,
                   void **instance_out, cano_result *result);

    /** Destination: delivers one Issue (JSON, see docs/issue.schema.json). */
    void (*deliver)(void *instance, cano_bytes issue_json, const cano_call_context *context,
                    cano_result *result);

    /** Enricher: returns enrichments for one Issue in result->payload. NULL for destinations. */
    void (*enrich)(void *instance, cano_bytes issue_json, const cano_call_context *context,
                   cano_result *result);

    /** Releases an instance. The host makes no further calls on it. */
    void (*destroy)(void *instance);

    /** Frees a buffer this plugin handed to the host. NULL is a no-op. */
    void (*free_buffer)(void *ptr);

    /* ---- v1.1 (a v1.0 plugin's smaller struct_size means NULL) ---- */

    /**
     * NULL, or a NULL-terminated array of config keys ending in "_file" whose value is a
     * path the plugin opens itself ("ca_file"). The host passes these through unchanged.
     * Every other `X_file: PATH` key is a secret file: the host reads it and passes `X`
     * holding the content (trailing whitespace removed). Static, like the other strings.
     */
    const char *const *path_keys;

    /* ---- v1.2 (read only when struct_size covers it and abi_minor >= 2) ---- */

    /**
     * CANO_CAPABILITY_* bits: what this plugin can take beyond plain Issues. 0 (and any
     * v1.0/v1.1 descriptor) means none: the host then sends only single Issues. A separate
     * field from `flags`, which says how to call the plugin rather than what to send it.
     */
    uint64_t capabilities;

    /* ---- v1.3 (read only when struct_size covers it and abi_minor >= 3) ---- */

    /**
     * Destinations, optional (NULL: the host cannot preview this destination). Renders one
     * Issue as deliver() would send it, WITHOUT sending anything: sets result->status to
     * CANO_STATUS_OK, result->payload to the request body deliver() would send (JSON for
     * JSON APIs; a JSON array of them, in order, when one delivery sends several) and
     * result->message to a short line saying where it would go ("chat.postMessage to #alerts"). No I/O, no state change, no secrets in either
     * buffer. The host's console calls it for its message preview, on an instance of its
     * own created with CANO_CREATE_VALIDATE_ONLY (never one that delivers); calls are
     * serialised like deliver().
     */
    void (*render)(void *instance, cano_bytes issue_json, cano_result *result);
} cano_plugin_descriptor;

/** The smallest descriptor a v1 host accepts: everything up to and including free_buffer. */
#define CANO_DESCRIPTOR_V1_MIN_SIZE (offsetof(cano_plugin_descriptor, free_buffer) + sizeof(void (*)(void *)))

/** The size of a v1.1 descriptor: everything up to and including path_keys. */
#define CANO_DESCRIPTOR_V1_1_SIZE (offsetof(cano_plugin_descriptor, path_keys) + sizeof(const char *const *))

/** The entry point's type: returns a pointer to a static descriptor. */
typedef const cano_plugin_descriptor *(*cano_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CANO_PLUGIN_H */
