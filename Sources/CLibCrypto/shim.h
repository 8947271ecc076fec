// OpenSSL's libcrypto (Debian libssl-dev), for the Webhook plugin's HMAC-SHA256. libcurl
// already loads this library into the collector's process, so a plugin that links it adds
// no mapping; swift-crypto would add its own copy of BoringSSL (10 MB) to the plugin.
#include <openssl/evp.h>
#include <openssl/hmac.h>
