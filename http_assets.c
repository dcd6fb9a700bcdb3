/*
 * http_assets.c — finding an embedded asset and its gzip form. The table
 * itself is generated (http_assets.h); the gzip forms are made once, at
 * the first request that can use one, under one lock, and kept for the
 * life of the process (a few KiB for the placeholder page).
 */
#include "http_assets.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ASSETS_MAX 256

static pthread_mutex_t gz_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *gz_data[ASSETS_MAX];
static size_t gz_len[ASSETS_MAX];
static int gz_done[ASSETS_MAX];

const struct http_asset *http_asset_find(const char *path)
{
	for (unsigned i = 0; i < http_nassets; i++)
		if (strcmp(http_assets[i].path, path) == 0)
			return &http_assets[i];
	return NULL;
}

/* gzip (windowBits 16+15) of the whole asset in one go; NULL if it is not
 * smaller. */
static unsigned char *gzip_of(const struct http_asset *a, size_t *outlen)
{
	z_stream z;
	uLong cap = compressBound((uLong)a->len) + 32;
	unsigned char *out = xmalloc(cap);

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)a->data;
	z.avail_in = (uInt)a->len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= a->len) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

const unsigned char *http_asset_gzip(const struct http_asset *a, size_t *len)
{
	size_t i = (size_t)(a - http_assets);
	const unsigned char *r;

	if (!a->compressible || i >= ASSETS_MAX)
		return NULL;
	pthread_mutex_lock(&gz_lock);
	if (!gz_done[i]) {
		gz_data[i] = gzip_of(a, &gz_len[i]);
		gz_done[i] = 1;
	}
	r = gz_data[i];
	*len = gz_len[i];
	pthread_mutex_unlock(&gz_lock);
	return r;
}
