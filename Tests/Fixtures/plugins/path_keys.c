/* ABI v1.1: declares config keys that are paths it opens itself. With BAD_PATH_KEY one
 * entry does not end in _file; with SECRET_PATH_KEY one names a secret. The host must
 * refuse the plugin in both cases. */
#include "fixture.h"

#if defined(BAD_PATH_KEY)
static const char *const keys[] = {"ca_file", "token", NULL};
#elif defined(SECRET_PATH_KEY)
static const char *const keys[] = {"ca_file", "token_file", NULL};
#else
static const char *const keys[] = {"ca_file", "cert_file", NULL};
#endif

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("path-keys"), .path_keys = keys};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
