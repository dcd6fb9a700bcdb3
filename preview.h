/*
 * preview.h — a message's preview text: the start of its first text part
 * as a person would read it, for IMAP FETCH PREVIEW (RFC 8970) and the
 * JMAP Email "preview" property (RFC 8621 4.1.4), which want the same
 * string.
 *
 * Pure over a parsed MIME tree (message.h) and a message source; reads
 * at most PREVIEW_READ_MAX bytes of the part; no global state.
 */
#ifndef BREV_PREVIEW_H
#define BREV_PREVIEW_H

#include "message.h"

#define PREVIEW_CHARS	 200	      /* RFC 8970 3.1: at most 200 characters */
#define PREVIEW_READ_MAX (256 * 1024) /* encoded bytes of the part looked at */

/* Appends to out the preview of the message whose tree is root: the first
 * text/plain part (a text/html one when an alternative has no plain one,
 * or when the first text part is HTML), transfer encoding and charset
 * decoded to UTF-8, HTML tags, comments, <style>/<script>/<head> content
 * dropped and the common entities decoded, every run of white space and
 * control characters one space, trimmed, then cut to PREVIEW_CHARS Unicode
 * characters (never inside a UTF-8 sequence; bytes that are not UTF-8 come out of
 * mime_to_utf8 as '?', and any left would become U+FFFD).
 * Attachments and attached messages are not looked into. Returns 1 when
 * the message has a text part, 0 when it has none (out unchanged; RFC 8970
 * then wants the empty string). */
int mime_preview(const struct mime_part *root, const struct msg_src *src, struct sbuf *out);

#endif
