/*
 * spam.c — the content filter's framework (spam.h): named tests with
 * weights, the strength table, the per-recipient decision, the X-Spam
 * fields, and the content checks that need no learning (GTUBE, missing
 * Message-ID/Date, a From display name posing as an address, executable
 * attachments, and the SPF/DKIM/DMARC verdicts authres.c already made).
 *
 * Why weights and a sum, not verdicts: no single heuristic here is proof
 * (plenty of scripts send without a Message-ID), but several together
 * are; and later checks (DNSBL, Bayes) only have to say how sure they
 * are. The weights are chosen so that one heuristic alone never reaches
 * Junk at `normal`, two strong ones do, and only GTUBE (or several strong
 * signals) reaches a reject threshold.
 */
#include "spam.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "spool.h"
#include "util.h"

/* The weights of spam_content's tests (docs/spam.md lists them). */
#define W_GTUBE		 15.0
#define W_MISSING_MID	 1.0
#define W_MISSING_DATE	 1.0
#define W_FROM_NAME_ADDR 3.0
#define W_EXE_ATTACHMENT 5.0
#define W_SPF_FAIL	 2.0
#define W_SPF_SOFTFAIL	 1.0
#define W_DKIM_FAIL	 1.5
#define W_DMARC_FAIL	 2.5
#define W_DMARC_PASS	 (-1.0)

/* docs/spam.md's table: a change here is a change there. */
static const struct spam_level levels[] = {
    [SPAM_OFF] = {SPAM_NEVER, SPAM_NEVER},
    [SPAM_LENIENT] = {8.0, SPAM_NEVER},
    [SPAM_NORMAL] = {5.0, 20.0},
    [SPAM_STRICT] = {3.0, 10.0},
};

const char *spam_strength_name(int strength)
{
	static const char *const names[] = {"default", "off", "lenient", "normal", "strict"};
	return strength >= 0 && strength <= SPAM_STRICT ? names[strength] : "?";
}

const struct spam_level *spam_level(int strength)
{
	if (strength < SPAM_OFF || strength > SPAM_STRICT)
		strength = SPAM_NORMAL;
	return &levels[strength];
}

int spam_action(int strength, double score)
{
	const struct spam_level *l = spam_level(strength);
	if (strength == SPAM_OFF)
		return SPAM_INBOX;
	if (score >= l->reject)
		return SPAM_REJECT;
	if (score >= l->junk)
		return SPAM_JUNK;
	return SPAM_INBOX;
}

int spam_decide(const int *strengths, const double *scores, size_t n, int *actions)
{
	size_t rejects = 0;
	for (size_t i = 0; i < n; i++) {
		actions[i] = spam_action(strengths[i], scores[i]);
		rejects += actions[i] == SPAM_REJECT;
	}
	if (n > 0 && rejects == n)
		return SPAM_REJECT;
	for (size_t i = 0; i < n; i++)
		if (actions[i] == SPAM_REJECT)
			actions[i] = SPAM_JUNK;
	return SPAM_INBOX;
}

void spam_add(struct spam_result *r, const char *name, double weight)
{
	r->score += weight;
	if (r->n >= SPAM_TESTS_MAX)
		return;
	struct spam_test *t = &r->tests[r->n++];
	size_t k = 0;
	/* names are ours, but keep the header clean whatever a caller passes */
	for (; name[k] && k < SPAM_NAME_MAX; k++) {
		char c = name[k];
		t->name[k] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
	}
	t->name[k] = 0;
	t->weight = weight;
}

int spam_fired(const struct spam_result *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->tests[i].name, name) == 0)
			return 1;
	return 0;
}

/* One decimal, and never "-0.0". */
static void fmt_points(char *out, size_t cap, double v)
{
	if (v > -0.05 && v < 0.05)
		v = 0;
	snprintf(out, cap, "%.1f", v);
}

char *spam_fields(const struct spam_result *r)
{
	struct sbuf b = {0};
	char s[32], w[32];
	fmt_points(s, sizeof s, r->score);
	sbuf_printf(&b, "X-Spam-Score: %s\r\nX-Spam-Status: score=%s tests=", s, s);
	size_t col = strlen("X-Spam-Status: score= tests=") + strlen(s);
	if (r->n == 0)
		sbuf_add(&b, "none", 4);
	for (size_t i = 0; i < r->n; i++) {
		char item[64];
		fmt_points(w, sizeof w, r->tests[i].weight);
		int k = snprintf(item, sizeof item, "%s(%s)%s", r->tests[i].name, w,
				 i + 1 < r->n ? "," : "");
		if (col + (size_t)k > 76) { /* RFC 5322 2.1.1: fold before 78 */
			sbuf_add(&b, "\r\n\t", 3);
			col = 1;
		}
		sbuf_add(&b, item, (size_t)k);
		col += (size_t)k;
	}
	sbuf_add(&b, "\r\n", 2);
	return b.p;
}

/* ---- the content checks ---- */

static const char gtube[] = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_dom_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

static int is_local_char(int c)
{
	return is_dom_char(c) || c == '_' || c == '+' || c == '%';
}

/* The domain of the first thing shaped like local@dom.tld in s[0..n), or
 * 0; the domain's span in *d, *dl. */
static int find_addr(const char *s, size_t n, const char **d, size_t *dl)
{
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] != '@' || !is_local_char((unsigned char)s[i - 1]))
			continue;
		size_t e = i + 1, dots = 0;
		while (e < n && is_dom_char((unsigned char)s[e])) {
			dots += s[e] == '.';
			e++;
		}
		while (e > i + 1 && s[e - 1] == '.') { /* a full stop ending the sentence */
			e--;
			dots--;
		}
		if (dots > 0 && e > i + 3) {
			*d = s + i + 1;
			*dl = e - i - 1;
			return 1;
		}
	}
	return 0;
}

/* The organisational tail of a domain, roughly: its last two labels. Good
 * enough to tell "paypal.com" in a name from "mx.evil.test". */
static void dom_tail(const char *d, size_t n, const char **t, size_t *tn)
{
	size_t dots = 0, i = n;
	while (i > 0) {
		if (d[i - 1] == '.' && ++dots == 2)
			break;
		i--;
	}
	*t = d + i;
	*tn = n - i;
}

static int same_tail(const char *a, size_t an, const char *b, size_t bn)
{
	const char *ta, *tb;
	size_t tan, tbn;
	dom_tail(a, an, &ta, &tan);
	dom_tail(b, bn, &tb, &tbn);
	if (tan != tbn)
		return 0;
	for (size_t i = 0; i < tan; i++)
		if (lower((unsigned char)ta[i]) != lower((unsigned char)tb[i]))
			return 0;
	return 1;
}

/* From: "service@paypal.com" <x@mx.evil.test>: a display name holding an
 * address of another domain than the real one, the phisher's oldest trick
 * (mail clients often show only the name). */
static int from_name_poses(const char *from)
{
	char *v = mime_decode_words(from, strlen(from));
	int bad = 0;
	char *lt = strrchr(v, '<');
	char *gt = lt ? strchr(lt, '>') : NULL;
	const char *nd, *ad;
	size_t ndl, adl;
	if (lt && gt && find_addr(v, (size_t)(lt - v), &nd, &ndl) &&
	    find_addr(lt + 1, (size_t)(gt - lt - 1), &ad, &adl))
		bad = !same_tail(nd, ndl, ad, adl);
	free(v);
	return bad;
}

/* File names and types that run when opened on a common desktop. */
static int exe_name(const char *name)
{
	static const char *const ext[] = {"exe", "scr", "pif", "com", "bat", "cmd", "vbs",
					  "vbe", "js",	"jse", "wsf", "wsh", "hta", "msi",
					  "jar", "lnk", "cpl", "ps1", "reg", "msc"};
	if (!name)
		return 0;
	char *v = mime_decode_words(name, strlen(name));
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '"' || v[n - 1] == '.'))
		v[--n] = 0;
	const char *dot = strrchr(v, '.');
	int hit = 0;
	for (size_t i = 0; dot && i < ARRAY_LEN(ext) && !hit; i++)
		hit = str_casecmp_ascii(dot + 1, ext[i]) == 0;
	free(v);
	return hit;
}

static int exe_part(const struct mime_part *p, int depth)
{
	for (; p; p = p->next) {
		if (exe_name(mime_param(p->dparams, p->ndparams, "filename")) ||
		    exe_name(mime_param(p->params, p->nparams, "name")))
			return 1;
		if (p->type && p->subtype && str_casecmp_ascii(p->type, "application") == 0 &&
		    (str_casecmp_ascii(p->subtype, "x-msdownload") == 0 ||
		     str_casecmp_ascii(p->subtype, "x-dosexec") == 0 ||
		     str_casecmp_ascii(p->subtype, "x-msdos-program") == 0))
			return 1;
		if (depth < MIME_DEPTH_MAX && exe_part(p->children, depth + 1))
			return 1;
	}
	return 0;
}

/* "spf=fail dkim=pass dmarc=none action=junk" -> 1 if key=val is a word. */
static int summary_has(const char *sum, const char *kv)
{
	size_t n = strlen(kv);
	for (const char *p = sum; (p = strstr(p, kv)); p += n)
		if ((p == sum || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return 1;
	return 0;
}

static void auth_tests(const char *sum, struct spam_result *r)
{
	if (!sum || !*sum)
		return;
	if (summary_has(sum, "spf=fail"))
		spam_add(r, "SPF_FAIL", W_SPF_FAIL);
	else if (summary_has(sum, "spf=softfail"))
		spam_add(r, "SPF_SOFTFAIL", W_SPF_SOFTFAIL);
	if (summary_has(sum, "dkim=fail"))
		spam_add(r, "DKIM_FAIL", W_DKIM_FAIL);
	if (summary_has(sum, "dmarc=fail"))
		spam_add(r, "DMARC_FAIL", W_DMARC_FAIL);
	else if (summary_has(sum, "dmarc=pass"))
		spam_add(r, "DMARC_PASS", W_DMARC_PASS);
}

void spam_content_mem(const char *msg, size_t len, const char *auth_summary, struct spam_result *r)
{
	if (len > SPAM_PREFIX_MAX)
		len = SPAM_PREFIX_MAX;
	if (memmem(msg, len, gtube, sizeof gtube - 1))
		spam_add(r, "GTUBE", W_GTUBE);
	struct msg_mem b;
	struct msg_src src;
	msg_src_buf(&src, &b, msg, len);
	struct mime_part *root = mime_parse(&src);
	if (!root->env[ENV_MESSAGE_ID] || !root->env[ENV_MESSAGE_ID][0])
		spam_add(r, "MISSING_MID", W_MISSING_MID);
	if (!root->env[ENV_DATE] || !root->env[ENV_DATE][0])
		spam_add(r, "MISSING_DATE", W_MISSING_DATE);
	if (root->env[ENV_FROM] && from_name_poses(root->env[ENV_FROM]))
		spam_add(r, "FROM_NAME_ADDR", W_FROM_NAME_ADDR);
	if (exe_part(root, 0))
		spam_add(r, "EXE_ATTACHMENT", W_EXE_ATTACHMENT);
	mime_free(&root);
	auth_tests(auth_summary, r);
}

char *spam_prefix(struct spool *sp, size_t *len)
{
	uint64_t size = spool_size(sp);
	size_t n = size > SPAM_PREFIX_MAX ? SPAM_PREFIX_MAX : (size_t)size, got = 0;
	char *buf = xmalloc(n + 1);
	while (got < n) {
		long k = spool_read_at(sp, got, buf + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = 0;
	*len = got;
	return buf;
}

void spam_content(struct spool *sp, const char *auth_summary, struct spam_result *r)
{
	size_t n;
	char *buf = spam_prefix(sp, &n);
	spam_content_mem(buf, n, auth_summary, r);
	free(buf);
}
