/*
 * http_assets.h — the static web assets compiled into the binary
 * (tools/embed-assets.sh writes the table from web/static/ at build time):
 * the pages at fixed paths ("/"), everything else at a path that carries
 * its content hash, so it can be cached for a year and a new build is
 * fetched at once. The table is read-only and shared by every thread.
 */
#ifndef BREV_HTTP_ASSETS_H
#define BREV_HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
	const char *path; /* "/" or "/assets/NAME.HASH.EXT" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* strong, with its quotes: "\"HASH\"" */
	int immutable;	  /* the path names the content: cache for a year */
	int compressible; /* text: worth a gzip form */
};

extern const struct http_asset http_assets[];
extern const unsigned http_nassets;

/* The asset served at path (without query), or NULL. */
const struct http_asset *http_asset_find(const char *path);
/* Its gzip form (RFC 1952), made once on first use and kept; NULL when it
 * is not compressible or would not be smaller. Thread-safe. */
const unsigned char *http_asset_gzip(const struct http_asset *a, size_t *len);

#endif
