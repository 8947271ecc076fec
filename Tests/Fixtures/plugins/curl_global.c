/* A destination that calls curl_global_init()/curl_global_cleanup(), which the host owns:
 * `plugins check` flags the imports. (The host process has libcurl loaded, so RTLD_NOW
 * resolves them; this fixture never actually calls them.) */
#include "fixture.h"

extern int curl_global_init(long flags);
extern void curl_global_cleanup(void);

static void (*volatile cleanup_hook)(void);
static int (*volatile init_hook)(long);

static void curl_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    init_hook = curl_global_init;
    cleanup_hook = curl_global_cleanup;
    fixture_create(config, host, out, result);
}

static const cano_plugin_descriptor descriptor = {
    FIXTURE_DESCRIPTOR_FIELDS("curl-global"),
    .create = curl_create,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
