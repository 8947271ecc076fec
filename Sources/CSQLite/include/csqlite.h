// SQLite for Swift: the system library plus what Swift cannot import from sqlite3.h.
#ifndef CANO_CSQLITE_H
#define CANO_CSQLITE_H
#include <sqlite3.h>

/** sqlite3_bind_text/blob with SQLITE_TRANSIENT (a function-pointer cast macro). */
int csqlite_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length);
int csqlite_bind_blob(sqlite3_stmt *stmt, int index, const void *data, int length);
#endif
