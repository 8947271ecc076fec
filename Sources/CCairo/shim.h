// cairo (Debian libcairo2-dev) for the Prometheus graph plugin. Only that plugin links it:
// the host and the core image stay free of cairo and the X11 libraries it depends on.
#include <cairo/cairo.h>
