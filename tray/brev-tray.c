/*
 * tray/brev-tray.c — the desktop notifier for brev (and any IMAPS server).
 *
 * Owns: the command line and ~/.config/brev/tray.conf, finding the local
 * brev when nothing is configured, passwords (a 0600 file, the Secret
 * Service, or a dialog once), the tray icon (libayatana-appindicator:
 * StatusNotifierItem, falling back to XEmbed) with its menu, and the
 * notifications (libnotify), including folding a burst into one.
 * The IMAP connections run in worker threads (imapc.c); they report through
 * events that arrive here, in GTK's main loop. See docs/tray.md.
 */
#include "tray.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <libayatana-appindicator/app-indicator-enum-types.h>
#include <libayatana-appindicator/app-indicator.h>
#include <libnotify/notify.h>
#include <libsecret/secret.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLD_MS		1500 /* messages arriving within this window: one bubble */
#define FOLD_LIST_MAX	5    /* lines listed in a folded bubble */
#define SECRET_FILE_MAX 4096

/* Options as read from tray.conf or the command line; NULL = not given. */
struct opts {
	char *server, *user, *password_file, *ca, *fingerprint;
	int privacy; /* -1 not given */
};

enum pw_source { PW_NONE, PW_FILE, PW_SECRET, PW_SAVED_FILE, PW_DIALOG };

struct account {
	struct tray_account_cfg cfg;
	char *password_file;
	enum pw_source pw_src;
	int local; /* found by local discovery */
	struct imapc_worker *worker;
	unsigned gen;
	enum tray_state state;
	char *detail;
	long unread;
	GtkWidget *item;
	GPtrArray *pending; /* struct tray_msg * waiting to be folded */
	unsigned pending_total;
	guint fold_timer;
};

static GPtrArray *accounts; /* struct account * */
static AppIndicator *indicator;
static GtkWidget *menu;
static char *open_command;
static int notify_ok = 1; /* a notification service answered */
static int notify_warned; /* the one log line was written */
static int notify_markup; /* the server renders body markup */
static int notify_actions;
static char *config_path_opt;

static const SecretSchema secret_schema = {
    "org.brev.Tray.Password",
    SECRET_SCHEMA_NONE,
    {{"server", SECRET_SCHEMA_ATTRIBUTE_STRING},
     {"user", SECRET_SCHEMA_ATTRIBUTE_STRING},
     {NULL, 0}},
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

static void logline(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void logline(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("brev-tray: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

/* ---- options and tray.conf ------------------------------------------- */

static void opts_free(struct opts *o)
{
	g_free(o->server);
	g_free(o->user);
	g_free(o->password_file);
	g_free(o->ca);
	g_free(o->fingerprint);
	memset(o, 0, sizeof *o);
	o->privacy = -1;
}

static int parse_bool(const char *v, int *out)
{
	if (!g_ascii_strcasecmp(v, "yes") || !g_ascii_strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !g_ascii_strcasecmp(v, "on"))
		*out = 1;
	else if (!g_ascii_strcasecmp(v, "no") || !g_ascii_strcasecmp(v, "false") ||
		 !strcmp(v, "0") || !g_ascii_strcasecmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static char *expand_home(const char *v)
{
	if (v[0] == '~' && (v[1] == '/' || v[1] == 0))
		return g_build_filename(g_get_home_dir(), v + 1, NULL);
	return g_strdup(v);
}

/* Set one key; the same names as the long options. -1 for an unknown key
 * or a bad value. */
static int opts_set(struct opts *o, const char *k, const char *v)
{
	char **slot = NULL;
	if (!strcmp(k, "server"))
		slot = &o->server;
	else if (!strcmp(k, "user"))
		slot = &o->user;
	else if (!strcmp(k, "password-file"))
		slot = &o->password_file;
	else if (!strcmp(k, "ca"))
		slot = &o->ca;
	else if (!strcmp(k, "fingerprint"))
		slot = &o->fingerprint;
	else if (!strcmp(k, "privacy"))
		return parse_bool(v, &o->privacy);
	else
		return -1;
	g_free(*slot);
	*slot = (slot == &o->password_file || slot == &o->ca) ? expand_home(v) : g_strdup(v);
	return 0;
}

struct section {
	char *name;
	struct opts o;
};

/* tray.conf: "key = value" lines, '#' comments, "[name]" starts an account.
 * Keys before the first section apply to every account; "open" is global. */
static int conf_load(const char *path, int must_exist, struct opts *global, GPtrArray *sections)
{
	char *text = NULL, **lines;
	GError *err = NULL;
	struct opts *cur = global;

	if (!g_file_get_contents(path, &text, NULL, &err)) {
		int missing = g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
		if (!missing || must_exist)
			logline("%s", err->message);
		g_error_free(err);
		return missing && !must_exist ? 0 : -1;
	}
	lines = g_strsplit(text, "\n", -1);
	g_free(text);
	int rc = 0;
	for (int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]);
		if (!*l || *l == '#')
			continue;
		if (*l == '[') {
			char *e = strchr(l, ']');
			if (!e || e == l + 1) {
				logline("%s:%d: bad section header", path, i + 1);
				rc = -1;
				break;
			}
			struct section *s = g_new0(struct section, 1);
			s->name = g_strndup(l + 1, (size_t)(e - l - 1));
			s->o.privacy = -1;
			g_ptr_array_add(sections, s);
			cur = &s->o;
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq) {
			logline("%s:%d: expected key = value", path, i + 1);
			rc = -1;
			break;
		}
		*eq = 0;
		char *k = g_strstrip(l), *v = g_strstrip(eq + 1);
		if (!strcmp(k, "open") && cur == global) {
			g_free(open_command);
			open_command = g_strdup(v);
		} else if (!strcmp(k, "password")) {
			logline("%s:%d: passwords do not go in tray.conf; use password-file", path,
				i + 1);
			rc = -1;
			break;
		} else if (opts_set(cur, k, v) < 0) {
			logline("%s:%d: unknown key or bad value: %s", path, i + 1, k);
			rc = -1;
			break;
		}
	}
	g_strfreev(lines);
	return rc;
}

static char *pick(char *a, char *b)
{
	return g_strdup(a ? a : b);
}

/* Layer b over a into out (b wins). */
static void opts_merge(struct opts *out, const struct opts *a, const struct opts *b)
{
	out->server = pick(b->server, a->server);
	out->user = pick(b->user, a->user);
	out->password_file = pick(b->password_file, a->password_file);
	out->ca = pick(b->ca, a->ca);
	out->fingerprint = pick(b->fingerprint, a->fingerprint);
	out->privacy = b->privacy >= 0 ? b->privacy : a->privacy;
}

/* ---- local discovery -------------------------------------------------- */

static char *datadir(void)
{
	const char *e;
	if ((e = g_getenv("BREV_HOME")) && *e)
		return g_strdup(e);
	if ((e = g_getenv("XDG_DATA_HOME")) && *e)
		return g_build_filename(e, "brev", NULL);
	return g_build_filename(g_get_home_dir(), ".local", "share", "brev", NULL);
}

/* The last value of key in brev.conf (the server's rule), or NULL. */
static char *brevconf_get(const char *text, const char *key)
{
	char **lines = g_strsplit(text, "\n", -1), *val = NULL;
	for (int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]), *eq;
		if (*l == '#' || !(eq = strchr(l, '=')))
			continue;
		*eq = 0;
		if (!strcmp(g_strstrip(l), key)) {
			g_free(val);
			val = g_strdup(g_strstrip(eq + 1));
		}
	}
	g_strfreev(lines);
	return val;
}

/* SHA-256 of the first certificate in a PEM file, 64 hex digits. */
static int cert_fingerprint(const char *path, char out[65])
{
	FILE *f = fopen(path, "r");
	X509 *x;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!f)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x || !X509_digest(x, EVP_sha256(), md, &n) || n != 32) {
		X509_free(x);
		return -1;
	}
	X509_free(x);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The local part brev serve's first run gives the account it creates
 * (util.c local_username, then lower-cased): $USER, else the name of our
 * uid in /etc/passwd, else "user". $USER first, so `sudo -E` or a root
 * session with USER=alice means alice, as it does for brev. New string. */
static char *local_user(void)
{
	const char *u = g_getenv("USER");
	const char *name = u && *u ? u : g_get_user_name();
	return g_ascii_strdown(name && *name && strcmp(name, "somebody") ? name : "user", -1);
}

/* Fill what o leaves open from the local brev: its IMAPS listener, its
 * certificate (pinned by fingerprint) and the account brev serve's first
 * run creates: $USER@localhost (@<first domain> without localhost). */
static int discover_local(struct opts *o)
{
	char *dd = datadir(), *conf = g_build_filename(dd, "brev.conf", NULL), *text = NULL;
	int rc = -1;

	if (!g_file_get_contents(conf, &text, NULL, NULL)) {
		logline("no server given and no local brev found (%s does not exist); use --server",
			conf);
		goto out;
	}
	if (!o->server) {
		char *l = brevconf_get(text, "listen.imaps");
		char *first = l ? g_strdup(strtok(l, " \t")) : g_strdup("127.0.0.1:2993");
		if (!first || !*first) {
			logline("the local brev has no IMAPS listener (listen.imaps in %s)", conf);
			g_free(l);
			g_free(first);
			goto out;
		}
		/* a wildcard listener is reached over loopback */
		if (g_str_has_prefix(first, "0.0.0.0:") || g_str_has_prefix(first, "*:"))
			o->server = g_strconcat("127.0.0.1", strrchr(first, ':'), NULL);
		else if (g_str_has_prefix(first, "[::]:"))
			o->server = g_strconcat("[::1]", strrchr(first, ':'), NULL);
		else
			o->server = g_strdup(first);
		g_free(l);
		g_free(first);
	}
	if (!o->ca && !o->fingerprint) {
		char *c = brevconf_get(text, "tls.cert");
		char *path = c && g_path_is_absolute(c)
				 ? g_strdup(c)
				 : g_build_filename(dd, c ? c : "cert.pem", NULL);
		char fp[65];
		if (cert_fingerprint(path, fp) < 0)
			logline("cannot read the local brev's certificate %s", path);
		else
			o->fingerprint = g_strdup(fp);
		g_free(c);
		g_free(path);
		if (!o->fingerprint)
			goto out;
	}
	if (!o->user) {
		char *d = brevconf_get(text, "domains"), *dom = NULL;
		/* brev serve's first run: localhost; a DATADIR set up by
		 * `brev init --domain D` has D first */
		for (char *t = d ? strtok(d, " \t") : NULL; t; t = strtok(NULL, " \t"))
			if (!dom || !g_ascii_strcasecmp(t, "localhost"))
				dom = t;
		char *me = local_user();
		o->user = g_strdup_printf("%s@%s", me, dom ? dom : "localhost");
		g_free(me);
		g_free(d);
	}
	rc = 0;
out:
	g_free(text);
	g_free(conf);
	g_free(dd);
	return rc;
}

/* "host:port", "[v6]:port" or "host" (port 993). */
static int split_server(const char *s, char **host, char **port)
{
	const char *c;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return -1;
		*host = g_strndup(s + 1, (size_t)(e - s - 1));
		*port = g_strdup(e[1] == ':' ? e + 2 : "993");
	} else if ((c = strrchr(s, ':')) && strchr(s, ':') == c) {
		*host = g_strndup(s, (size_t)(c - s));
		*port = g_strdup(c + 1);
	} else {
		*host = g_strdup(s);
		*port = g_strdup("993");
	}
	return **host && **port ? 0 : -1;
}

static struct account *account_new(const char *name, struct opts *o, int local)
{
	struct account *a = g_new0(struct account, 1);
	char fp[65];

	if (!o->server || split_server(o->server, &a->cfg.host, &a->cfg.port) < 0) {
		logline("account %s: bad or missing server (HOST:PORT)", name);
		goto bad;
	}
	if (!o->user) {
		logline("account %s: no user given", name);
		goto bad;
	}
	if (o->ca && o->fingerprint) {
		logline("account %s: give --ca or --fingerprint, not both", name);
		goto bad;
	}
	if (o->fingerprint) {
		if (tray_fingerprint_norm(o->fingerprint, fp) < 0) {
			logline("account %s: the fingerprint must be a SHA-256 (64 hex digits)",
				name);
			goto bad;
		}
		a->cfg.fingerprint = g_strdup(fp);
	}
	a->cfg.name = g_strdup(name ? name : o->user);
	a->cfg.user = g_strdup(o->user);
	a->cfg.ca = g_strdup(o->ca);
	a->cfg.privacy = o->privacy > 0;
	a->password_file = g_strdup(o->password_file);
	a->local = local;
	a->state = TRAY_ST_CONNECTING;
	a->detail = g_strdup("starting");
	a->unread = -1;
	return a;
bad:
	g_free(a->cfg.host);
	g_free(a->cfg.port);
	g_free(a);
	return NULL;
}

/* ---- passwords -------------------------------------------------------- */

/* A password file must be private (RFC-free common sense: like ssh keys). */
static char *read_password_file(const char *path, int quiet)
{
	struct stat st;
	char buf[SECRET_FILE_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0) {
		if (!quiet)
			logline("cannot open password file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    st.st_uid != getuid()) {
		logline("password file %s must be a regular file of yours with mode 0600", path);
		close(fd);
		return NULL;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	char *pw = g_strdup(buf);
	memset(buf, 0, sizeof buf);
	return pw;
}

static char *server_key(const struct account *a)
{
	return g_strdup_printf("%s:%s", a->cfg.host, a->cfg.port);
}

/* Where a password is kept when no Secret Service runs. */
static char *saved_file_path(const struct account *a)
{
	char *id = g_strdup_printf("%s@%s_%s", a->cfg.user, a->cfg.host, a->cfg.port);
	for (char *p = id; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '@' && *p != '.' && *p != '_' && *p != '-')
			*p = '_';
	char *file = g_strdup_printf("tray-%s.password", id);
	char *path = g_build_filename(g_get_user_config_dir(), "brev", file, NULL);
	g_free(id);
	g_free(file);
	return path;
}

static char *secret_lookup(const struct account *a)
{
	char *srv = server_key(a), *pw;
	GError *err = NULL;
	pw = secret_password_lookup_sync(&secret_schema, NULL, &err, "server", srv, "user",
					 a->cfg.user, NULL);
	if (err)
		g_error_free(err);
	g_free(srv);
	if (!pw)
		return NULL;
	char *r = g_strdup(pw);
	secret_password_free(pw);
	return r;
}

static void password_save(struct account *a)
{
	char *srv = server_key(a),
	     *label = g_strdup_printf("brev-tray: %s on %s", a->cfg.user, srv);
	GError *err = NULL;

	if (secret_password_store_sync(&secret_schema, SECRET_COLLECTION_DEFAULT, label,
				       a->cfg.password, NULL, &err, "server", srv, "user",
				       a->cfg.user, NULL)) {
		logline("%s: password saved in the Secret Service", a->cfg.name);
		a->pw_src = PW_SECRET;
	} else {
		char *path = saved_file_path(a), *dir = g_path_get_dirname(path);
		g_mkdir_with_parents(dir, 0700);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 && fchmod(fd, 0600) == 0 &&
		    write(fd, a->cfg.password, strlen(a->cfg.password)) >= 0) {
			logline("%s: no Secret Service; password saved in %s (mode 0600)",
				a->cfg.name, path);
			a->pw_src = PW_SAVED_FILE;
		} else {
			logline("%s: cannot save the password in %s", a->cfg.name, path);
			a->pw_src = PW_NONE;
		}
		if (fd >= 0)
			close(fd);
		g_free(path);
		g_free(dir);
	}
	if (err)
		g_error_free(err);
	g_free(srv);
	g_free(label);
	memset(a->cfg.password, 0, strlen(a->cfg.password));
}

static void password_forget(struct account *a)
{
	if (a->pw_src == PW_SECRET) {
		char *srv = server_key(a);
		secret_password_clear_sync(&secret_schema, NULL, NULL, "server", srv, "user",
					   a->cfg.user, NULL);
		g_free(srv);
	} else if (a->pw_src == PW_SAVED_FILE) {
		char *path = saved_file_path(a);
		unlink(path);
		g_free(path);
	}
}

/* Ask once; the password is saved only after the server accepted it. */
static char *password_dialog(struct account *a, const char *why)
{
	/* The title is the dialog's own: the tray icon's window is named
	 * "brev-tray" until its first count is shown. */
	GtkWidget *d = gtk_dialog_new_with_buttons(
	    "brev-tray: log in", NULL, 0, "_Cancel", GTK_RESPONSE_CANCEL, "_Log in", GTK_RESPONSE_OK, NULL);
	GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(d));
	char *msg = g_strdup_printf("%s%sPassword for %s on %s:%s", why ? why : "",
				    why ? "\n\n" : "", a->cfg.user, a->cfg.host, a->cfg.port);
	GtkWidget *label = gtk_label_new(msg), *entry = gtk_entry_new();
	char *pw = NULL;

	gtk_entry_set_visibility(GTK_ENTRY(entry), FALSE);
	gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
	gtk_dialog_set_default_response(GTK_DIALOG(d), GTK_RESPONSE_OK);
	gtk_container_set_border_width(GTK_CONTAINER(box), 12);
	gtk_box_set_spacing(GTK_BOX(box), 8);
	gtk_container_add(GTK_CONTAINER(box), label);
	gtk_container_add(GTK_CONTAINER(box), entry);
	gtk_widget_show_all(d);
	if (gtk_dialog_run(GTK_DIALOG(d)) == GTK_RESPONSE_OK)
		pw = g_strdup(gtk_entry_get_text(GTK_ENTRY(entry)));
	gtk_widget_destroy(d);
	g_free(msg);
	return pw;
}

/* 0 when a->cfg.password is set; -1 when there is none to be had. */
static int password_get(struct account *a, const char *why)
{
	char *pw = NULL;

	g_free(a->cfg.password);
	a->cfg.password = NULL;
	if (a->password_file) {
		if (why)
			return -1; /* the file was wrong: do not loop on it */
		pw = read_password_file(a->password_file, 0);
		a->pw_src = PW_FILE;
	}
	if (!pw && !a->password_file && !why) {
		if ((pw = secret_lookup(a)))
			a->pw_src = PW_SECRET;
		else {
			char *path = saved_file_path(a);
			if ((pw = read_password_file(path, 1)))
				a->pw_src = PW_SAVED_FILE;
			g_free(path);
		}
	}
	if (!pw && !a->password_file) {
		pw = password_dialog(a, why);
		a->pw_src = PW_DIALOG;
	}
	a->cfg.password = pw;
	return pw ? 0 : -1;
}

/* ---- the tray icon ---------------------------------------------------- */

static long total_unread(int *offline)
{
	long n = 0;
	*offline = 0;
	for (guint i = 0; i < accounts->len; i++) {
		struct account *a = accounts->pdata[i];
		if (a->state != TRAY_ST_ONLINE)
			(*offline)++;
		if (a->unread > 0)
			n += a->unread;
	}
	return n;
}

/* ---- the XEmbed icon: our own GtkStatusIcon with a count badge ---------
 *
 * Where no StatusNotifierWatcher runs, libayatana-appindicator falls back to
 * a GtkStatusIcon (XEmbed). Its own fallback shows only the icon name, and
 * it calls gtk_status_icon_set_name() on an icon that is already realized:
 * GTK then hides, unrealizes and re-shows the tray window while the tray is
 * still embedding the first one, and the tray's MapNotify for the old
 * window thaws updates that were never frozen ("Gdk-CRITICAL **:
 * gdk_window_thaw_toplevel_updates: assertion ... failed" at start). So
 * brev-tray's indicator is a subclass whose fallback builds the status icon
 * itself: never renamed, and its image is the theme icon with the unread
 * count drawn on it, as mail clients' tray icons do. On the
 * StatusNotifierItem side the count is the indicator's label. */

static void open_mail_client(void);

/* GtkStatusIcon is deprecated in GTK 3, but it is still the one XEmbed tray
 * icon GTK has, and the one libayatana-appindicator's own fallback uses. */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS

static char *shown_icon, *shown_title; /* what update_tray last decided */
static long shown_count;
static GtkStatusIcon *xembed_icon; /* while fallen back */

/* Draw the count in a red disc at the icon's bottom right. 99+ beyond 99. */
static GdkPixbuf *badge_pixbuf(const char *icon, long count, int size)
{
	GError *err = NULL;
	GdkPixbuf *base = gtk_icon_theme_load_icon(gtk_icon_theme_get_default(), icon, size,
						   GTK_ICON_LOOKUP_FORCE_SIZE, &err);
	cairo_surface_t *cs = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	cairo_t *cr = cairo_create(cs);

	g_clear_error(&err);
	if (base) {
		gdk_cairo_set_source_pixbuf(cr, base, (size - gdk_pixbuf_get_width(base)) / 2.0,
					    (size - gdk_pixbuf_get_height(base)) / 2.0);
		cairo_paint(cr);
		g_object_unref(base);
	}
	if (count > 0) {
		char txt[8];
		cairo_text_extents_t ex;
		if (count > 99)
			g_strlcpy(txt, "99+", sizeof txt);
		else
			snprintf(txt, sizeof txt, "%ld", count);
		double h = size * 0.62, fs = h * 0.78;
		cairo_select_font_face(cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
		cairo_set_font_size(cr, fs);
		cairo_text_extents(cr, txt, &ex);
		double w = MAX(h, ex.x_advance + h * 0.4), x = size - w, y = size - h, r = h / 2;
		/* a pill: round for one digit, longer for more */
		cairo_new_path(cr);
		cairo_arc(cr, x + r, y + r, r, G_PI / 2, 3 * G_PI / 2);
		cairo_arc(cr, x + w - r, y + r, r, -G_PI / 2, G_PI / 2);
		cairo_close_path(cr);
		cairo_set_source_rgb(cr, 0.85, 0.11, 0.11);
		cairo_fill_preserve(cr);
		cairo_set_source_rgb(cr, 1, 1, 1);
		cairo_set_line_width(cr, MAX(1.0, size / 24.0));
		cairo_stroke(cr);
		cairo_move_to(cr, x + (w - ex.x_advance) / 2, y + r - ex.y_bearing - ex.height / 2);
		cairo_show_text(cr, txt);
	}
	cairo_destroy(cr);
	GdkPixbuf *pb = gdk_pixbuf_get_from_surface(cs, 0, 0, size, size);
	cairo_surface_destroy(cs);
	return pb;
}

static void xembed_draw(int size)
{
	if (!xembed_icon || !shown_icon)
		return;
	GdkPixbuf *pb = badge_pixbuf(shown_icon, shown_count, size > 0 ? size : 22);
	if (pb) {
		gtk_status_icon_set_from_pixbuf(xembed_icon, pb);
		g_object_unref(pb);
	}
}

static void xembed_update(void)
{
	if (!xembed_icon)
		return;
	gtk_status_icon_set_title(xembed_icon, shown_title ? shown_title : "brev");
	gtk_status_icon_set_tooltip_text(xembed_icon, shown_title ? shown_title : "brev");
	xembed_draw(gtk_status_icon_get_size(xembed_icon));
}

static gboolean xembed_size_changed(GtkStatusIcon *si, int size, gpointer p)
{
	xembed_draw(size);
	return TRUE; /* drawn for this size: no scaling needed */
}

static void xembed_popup(GtkStatusIcon *si, guint button, guint time, gpointer p)
{
	GtkMenu *m = app_indicator_get_menu(APP_INDICATOR(p));
	if (m)
		gtk_menu_popup(m, NULL, NULL, gtk_status_icon_position_menu, si, button, time);
}

static void xembed_activate(GtkStatusIcon *si, gpointer p)
{
	xembed_popup(si, 1, gtk_get_current_event_time(), p);
}

static gboolean xembed_button(GtkStatusIcon *si, GdkEventButton *ev, gpointer p)
{
	if (ev->button != 2)
		return FALSE;
	open_mail_client(); /* a middle click, as on the StatusNotifierItem */
	return TRUE;
}

typedef struct {
	AppIndicator parent;
} BrevIndicator;
typedef struct {
	AppIndicatorClass parent_class;
} BrevIndicatorClass;
static GType brev_indicator_get_type(void);
G_DEFINE_TYPE(BrevIndicator, brev_indicator, APP_INDICATOR_TYPE)

static GtkStatusIcon *brev_indicator_fallback(AppIndicator *ind)
{
	GtkStatusIcon *si = gtk_status_icon_new();
	xembed_icon = si;
	g_signal_connect(si, "size-changed", G_CALLBACK(xembed_size_changed), NULL);
	g_signal_connect(si, "activate", G_CALLBACK(xembed_activate), ind);
	g_signal_connect(si, "popup-menu", G_CALLBACK(xembed_popup), ind);
	g_signal_connect(si, "button-release-event", G_CALLBACK(xembed_button), NULL);
	xembed_update();
	gtk_status_icon_set_visible(si, TRUE);
	return si;
}

static void brev_indicator_unfallback(AppIndicator *ind, GtkStatusIcon *si)
{
	if (xembed_icon == si)
		xembed_icon = NULL;
	g_signal_handlers_disconnect_by_data(si, ind);
	gtk_status_icon_set_visible(si, FALSE);
	g_object_unref(si);
}

static void brev_indicator_class_init(BrevIndicatorClass *k)
{
	k->parent_class.fallback = brev_indicator_fallback;
	k->parent_class.unfallback = brev_indicator_unfallback;
}

static void brev_indicator_init(BrevIndicator *self)
{
}

G_GNUC_END_IGNORE_DEPRECATIONS

static void update_tray(void)
{
	int offline;
	long n = total_unread(&offline);
	GString *title = g_string_new("brev: ");

	if (offline == (int)accounts->len)
		g_string_append(title, "disconnected");
	else {
		g_string_append_printf(title, "%ld unread", n);
		if (offline)
			g_string_append_printf(title, " (%d account%s disconnected)", offline,
					       offline > 1 ? "s" : "");
	}
	for (guint i = 0; i < accounts->len; i++) {
		struct account *a = accounts->pdata[i];
		char *t;
		if (a->state == TRAY_ST_ONLINE)
			t = g_strdup_printf("%s: %ld unread", a->cfg.name,
					    a->unread < 0 ? 0 : a->unread);
		else if (a->state == TRAY_ST_UNTRUSTED)
			t = g_strdup_printf("%s: certificate not trusted; pin it with --fingerprint "
					    "(the log line says how)",
					    a->cfg.name);
		else
			t = g_strdup_printf("%s: %s", a->cfg.name,
					    a->state == TRAY_ST_CONNECTING ? "connecting…"
									   : a->detail);
		gtk_menu_item_set_label(GTK_MENU_ITEM(a->item), t);
		g_free(t);
	}
	if (indicator) {
		const char *icon = offline == (int)accounts->len ? "network-offline"
				   : n > 0			 ? "mail-unread"
								 : "mail-read";
		char label[32];
		app_indicator_set_title(indicator, title->str);
		app_indicator_set_icon_full(indicator, icon, title->str);
		snprintf(label, sizeof label, "%ld", n);
		app_indicator_set_label(indicator, n > 0 ? label : "", "9999");
	}
	g_free(shown_icon);
	shown_icon = g_strdup(offline == (int)accounts->len ? "network-offline"
			      : n > 0			    ? "mail-unread"
							    : "mail-read");
	shown_count = offline == (int)accounts->len ? 0 : n;
	g_free(shown_title);
	shown_title = g_strdup(title->str);
	xembed_update();
	g_string_free(title, TRUE);
}

static void open_mail_client(void)
{
	GError *err = NULL;

	if (open_command) {
		if (!g_spawn_command_line_async(open_command, &err)) {
			logline("cannot run \"%s\": %s", open_command, err->message);
			g_error_free(err);
		}
		return;
	}
	/* The desktop's mail handler: the application registered for mailto. */
	GAppInfo *app = g_app_info_get_default_for_uri_scheme("mailto");
	if (app && g_app_info_launch(app, NULL, NULL, &err)) {
		g_object_unref(app);
		return;
	}
	if (err) {
		logline("cannot start %s: %s", g_app_info_get_name(app), err->message);
		g_clear_error(&err);
	}
	if (app)
		g_object_unref(app);
	char *argv[] = {"xdg-email", NULL};
	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err)) {
		logline("cannot run xdg-email: %s", err->message);
		g_error_free(err);
	}
}

static void on_open(GtkMenuItem *it, gpointer p)
{
	open_mail_client();
}

static gboolean quit_now(gpointer p)
{
	gtk_main_quit();
	return G_SOURCE_REMOVE;
}

static void on_quit(GtkMenuItem *it, gpointer p)
{
	/* a moment for the menu's D-Bus reply to leave before we exit */
	g_timeout_add(100, quit_now, NULL);
}

static GtkWidget *open_item;

static void make_indicator(void)
{
	/* app_indicator_new() with our subclass: the category property takes
	 * the enum's nick */
	GEnumClass *cats = g_type_class_ref(APP_INDICATOR_TYPE_INDICATOR_CATEGORY);
	GEnumValue *cat = g_enum_get_value(cats, APP_INDICATOR_CATEGORY_COMMUNICATIONS);
	indicator = g_object_new(brev_indicator_get_type(), "id", "brev-tray", "category",
				 cat->value_nick, "icon-name", "mail-read", NULL);
	g_type_class_unref(cats);
	app_indicator_set_status(indicator, APP_INDICATOR_STATUS_ACTIVE);
	app_indicator_set_menu(indicator, GTK_MENU(menu));
	app_indicator_set_secondary_activate_target(indicator, open_item);
}

static int sni_watcher_present(void)
{
	GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
	GVariant *r;
	gboolean has = FALSE;

	if (!bus)
		return 0;
	r = g_dbus_connection_call_sync(
	    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	    "NameHasOwner", g_variant_new("(s)", "org.kde.StatusNotifierWatcher"),
	    G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, 1000, NULL, NULL);
	if (r) {
		g_variant_get(r, "(b)", &has);
		g_variant_unref(r);
	}
	g_object_unref(bus);
	return has;
}

/* libayatana-appindicator 0.5.92 watches the StatusNotifierWatcher's name
 * and fetches the session bus in two independent asynchronous steps; when
 * the name-appeared callback wins, it builds the watcher proxy on a NULL
 * connection ("g_dbus_proxy_new: assertion ... failed") and the item is
 * never registered (about 1 start in 8 here). A watcher that appears later
 * is handled by the library itself, so only start-up needs this: if a
 * watcher is on the bus and the indicator is still not connected to it,
 * build the indicator again (a few times at most). */
static gboolean sni_check(gpointer p)
{
	static int tries;
	gboolean connected = FALSE;

	g_object_get(indicator, "connected", &connected, NULL);
	if (connected || !sni_watcher_present())
		return G_SOURCE_REMOVE;
	if (++tries > 5) {
		logline("the tray's StatusNotifierWatcher does not accept the icon");
		return G_SOURCE_REMOVE;
	}
	/* The failed attempt kept a reference to the indicator: force the
	 * dispose that unexports its D-Bus objects, so the new one can use the
	 * same paths. */
	g_object_run_dispose(G_OBJECT(indicator));
	g_object_unref(indicator);
	make_indicator();
	update_tray();
	return G_SOURCE_CONTINUE;
}

static void build_tray(void)
{
	menu = gtk_menu_new();
	g_object_ref_sink(menu); /* ours: an indicator that is rebuilt drops its own */
	for (guint i = 0; i < accounts->len; i++) {
		struct account *a = accounts->pdata[i];
		a->item = gtk_menu_item_new_with_label(a->cfg.name);
		g_signal_connect(a->item, "activate", G_CALLBACK(on_open), NULL);
		gtk_menu_shell_append(GTK_MENU_SHELL(menu), a->item);
	}
	gtk_menu_shell_append(GTK_MENU_SHELL(menu), gtk_separator_menu_item_new());
	open_item = gtk_menu_item_new_with_label("Open mail client");
	g_signal_connect(open_item, "activate", G_CALLBACK(on_open), NULL);
	gtk_menu_shell_append(GTK_MENU_SHELL(menu), open_item);
	GtkWidget *quit = gtk_menu_item_new_with_label("Quit");
	g_signal_connect(quit, "activate", G_CALLBACK(on_quit), NULL);
	gtk_menu_shell_append(GTK_MENU_SHELL(menu), quit);
	gtk_widget_show_all(menu);

	make_indicator();
	g_timeout_add(1500, sni_check, NULL);
	update_tray();
}

/* ---- notifications ---------------------------------------------------- */

static void notify_probe(void)
{
	char *name = NULL, *vendor = NULL, *version = NULL, *spec = NULL;

	if (!notify_get_server_info(&name, &vendor, &version, &spec)) {
		notify_ok = 0;
		if (!notify_warned)
			logline("no notification service on the session bus; new mail shows in the "
				"tray icon only");
		notify_warned = 1;
		return;
	}
	GList *caps = notify_get_server_caps();
	for (GList *l = caps; l; l = l->next) {
		if (!strcmp(l->data, "body-markup"))
			notify_markup = 1;
		else if (!strcmp(l->data, "actions"))
			notify_actions = 1;
	}
	g_list_free_full(caps, g_free);
	notify_ok = 1;
	g_free(name);
	g_free(vendor);
	g_free(version);
	g_free(spec);
}

static char *esc(const char *s)
{
	return notify_markup ? tray_markup_escape(s) : g_strdup(s);
}

static const char *who(const struct tray_msg *m)
{
	return *m->from_name ? m->from_name : *m->from_addr ? m->from_addr : "unknown sender";
}

/* Summary and body for n messages (the newest ones in msgs). */
static void compose(const struct account *a, GPtrArray *msgs, unsigned total, char **summary,
		    char **body)
{
	if (a->cfg.privacy) {
		*summary = g_strdup("New mail");
		*body = total == 1 ? g_strdup("1 new message")
				   : g_strdup_printf("%u new messages", total);
		return;
	}
	if (total == 1 && msgs->len == 1) {
		const struct tray_msg *m = msgs->pdata[0];
		char *subj = esc(*m->subject ? m->subject : "(no subject)"), *line = esc(m->line);
		if (*m->from_name && *m->from_addr)
			*summary = g_strdup_printf("%s <%s>", m->from_name, m->from_addr);
		else
			*summary = g_strdup(who(m));
		*body = g_strdup_printf(notify_markup ? "<b>%s</b>%s%s" : "%s%s%s", subj,
					*line ? "\n" : "", line);
		g_free(subj);
		g_free(line);
		return;
	}
	/* distinct senders, newest first */
	GPtrArray *names = g_ptr_array_new();
	for (guint i = msgs->len; i-- > 0;) {
		const char *n = who(msgs->pdata[i]);
		gboolean dup = FALSE;
		for (guint j = 0; j < names->len; j++)
			dup |= !strcmp(names->pdata[j], n);
		if (!dup)
			g_ptr_array_add(names, (gpointer)n);
	}
	if (names->len == 1)
		*summary =
		    g_strdup_printf("%u new messages from %s", total, (char *)names->pdata[0]);
	else if (names->len == 2 && total == msgs->len)
		*summary = g_strdup_printf("%u new messages from %s and %s", total,
					   (char *)names->pdata[0], (char *)names->pdata[1]);
	else
		*summary = g_strdup_printf("%u new messages from %s, %s and others", total,
					   (char *)names->pdata[0], (char *)names->pdata[1]);
	int one_sender = names->len == 1;
	g_ptr_array_free(names, TRUE);
	GString *b = g_string_new(NULL);
	guint shown = 0;
	for (guint i = msgs->len; i-- > 0 && shown < FOLD_LIST_MAX; shown++) {
		const struct tray_msg *m = msgs->pdata[i];
		char *n = esc(who(m)), *s = esc(*m->subject ? m->subject : "(no subject)");
		if (one_sender) /* the summary named them: list subjects */
			g_string_append_printf(b, "%s%s", b->len ? "\n" : "", s);
		else
			g_string_append_printf(b, notify_markup ? "%s<b>%s</b>: %s" : "%s%s: %s",
					       b->len ? "\n" : "", n, s);
		g_free(n);
		g_free(s);
	}
	if (total > shown)
		g_string_append_printf(b, "\n… and %u more", total - shown);
	*body = g_string_free(b, FALSE);
}

static void on_notification_action(NotifyNotification *n, char *action, gpointer p)
{
	open_mail_client();
}

static void show_notification(struct account *a)
{
	char *summary, *body;
	GError *err = NULL;

	compose(a, a->pending, a->pending_total, &summary, &body);
	logline("%s: %u new message%s", a->cfg.name, a->pending_total,
		a->pending_total == 1 ? "" : "s");
	if (!notify_ok)
		notify_probe(); /* a daemon may have appeared since */
	if (notify_ok) {
		NotifyNotification *n = notify_notification_new(summary, body, "mail-unread");
		notify_notification_set_category(n, "email.arrived");
		notify_notification_set_hint(n, "desktop-entry", g_variant_new_string("brev-tray"));
		if (notify_actions)
			notify_notification_add_action(n, "default", "Open mail client",
						       on_notification_action, NULL, NULL);
		if (!notify_notification_show(n, &err)) {
			if (!notify_warned)
				logline("no notification service on the session bus (%s); new mail "
					"shows in the tray icon "
					"only",
					err->message);
			notify_warned = 1;
			notify_ok = 0;
			g_error_free(err);
			g_object_unref(n);
		} else if (notify_actions) {
			/* the action callback needs the object until the bubble closes */
			g_signal_connect(n, "closed", G_CALLBACK(g_object_unref), NULL);
		} else {
			g_object_unref(n);
		}
	}
	g_free(summary);
	g_free(body);
}

static gboolean fold_fire(gpointer p)
{
	struct account *a = p;
	a->fold_timer = 0;
	if (a->pending->len > 0)
		show_notification(a);
	g_ptr_array_set_size(a->pending, 0);
	a->pending_total = 0;
	return G_SOURCE_REMOVE;
}

static void queue_new(struct account *a, struct tray_event *e)
{
	for (guint i = 0; i < e->msgs->len; i++)
		g_ptr_array_add(a->pending, e->msgs->pdata[i]);
	/* the array no longer owns them */
	g_ptr_array_set_free_func(e->msgs, NULL);
	/* keep the newest TRAY_DETAIL_MAX */
	while (a->pending->len > TRAY_DETAIL_MAX)
		g_ptr_array_remove_index(a->pending, 0);
	a->pending_total += e->total;
	if (!a->fold_timer)
		a->fold_timer = g_timeout_add(FOLD_MS, fold_fire, a);
}

/* ---- events from the workers ----------------------------------------- */

static void start_worker(struct account *a);

static void on_event(struct tray_event *e)
{
	struct account *a = (guint)e->account < accounts->len ? accounts->pdata[e->account] : NULL;

	if (!a || e->generation != a->gen) {
		tray_event_free(e);
		return;
	}
	switch (e->kind) {
	case TRAY_EV_STATE:
		if (e->state != a->state || strcmp(e->detail, a->detail))
			if (e->state != TRAY_ST_CONNECTING)
				logline("%s: %s", a->cfg.name, e->detail);
		if (e->state == TRAY_ST_ONLINE && a->pw_src == PW_DIALOG)
			password_save(a);
		a->state = e->state;
		g_free(a->detail);
		a->detail = g_strdup(e->detail);
		if (e->state == TRAY_ST_UNTRUSTED) {
			/* retrying cannot help; the detail said how to pin it */
			imapc_stop(&a->worker);
			logline("%s: this account stays offline until its certificate is pinned",
				a->cfg.name);
		}
		if (e->state == TRAY_ST_AUTHFAIL) {
			imapc_stop(&a->worker); /* it has stopped by itself: drop our hold */
			password_forget(a);
			update_tray();
			if (password_get(a, e->detail) == 0)
				start_worker(a);
			else if (a->password_file)
				logline("%s: the password in %s was refused; this account stays "
					"offline",
					a->cfg.name, a->password_file);
			else
				logline("%s: no password; this account stays offline", a->cfg.name);
		}
		break;
	case TRAY_EV_UNREAD:
		a->unread = e->unread;
		break;
	case TRAY_EV_NEW:
		queue_new(a, e);
		break;
	}
	update_tray();
	tray_event_free(e);
}

static void start_worker(struct account *a)
{
	guint idx;
	g_ptr_array_find(accounts, a, &idx);
	a->gen++;
	a->state = TRAY_ST_CONNECTING;
	a->worker = imapc_start(&a->cfg, (int)idx, a->gen, on_event);
	if (!a->worker) {
		logline("%s: cannot start its connection thread: %s", a->cfg.name, g_strerror(errno));
		a->state = TRAY_ST_AUTHFAIL;
		g_free(a->detail);
		a->detail = g_strdup("not started (out of file descriptors?)");
	}
	/* the worker has its own copy; a typed password is kept until the
	 * server accepted it and it has been saved */
	if (a->cfg.password && a->pw_src != PW_DIALOG)
		memset(a->cfg.password, 0, strlen(a->cfg.password));
}

/* The network came (back): accounts waiting out a backoff try at once
 * instead of after up to a minute. Connected ones are left alone (a route
 * change need not break them; if it did, keepalive and IDLE's DONE find out). */
static void on_network_changed(GNetworkMonitor *nm, gboolean available, gpointer p)
{
	if (!available)
		return;
	for (guint i = 0; i < accounts->len; i++) {
		struct account *a = accounts->pdata[i];
		if (a->worker && a->state == TRAY_ST_DISCONNECTED)
			imapc_kick(a->worker);
	}
}

/* ---- main ------------------------------------------------------------- */

static gboolean on_signal(gpointer p)
{
	gtk_main_quit();
	return G_SOURCE_REMOVE;
}

static int build_accounts(struct opts *cli, struct opts *global, GPtrArray *sections)
{
	int cli_account =
	    cli->server || cli->user || cli->password_file || cli->ca || cli->fingerprint;

	if (cli_account || sections->len == 0) {
		struct opts o = {.privacy = -1};
		opts_merge(&o, global, cli);
		int local = !o.server;
		if (local && discover_local(&o) < 0) {
			opts_free(&o);
			return -1;
		}
		struct account *a = account_new(o.user, &o, local);
		opts_free(&o);
		if (!a)
			return -1;
		g_ptr_array_add(accounts, a);
		return 0;
	}
	for (guint i = 0; i < sections->len; i++) {
		struct section *s = sections->pdata[i];
		struct opts o = {.privacy = -1}, o2 = {.privacy = -1};
		opts_merge(&o, global, &s->o);
		opts_merge(&o2, &o, cli); /* --privacy applies to every account */
		opts_free(&o);
		int local = !o2.server;
		if (local && discover_local(&o2) < 0) {
			opts_free(&o2);
			return -1;
		}
		struct account *a = account_new(s->name, &o2, local);
		opts_free(&o2);
		if (!a)
			return -1;
		g_ptr_array_add(accounts, a);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts cli = {.privacy = -1}, global = {.privacy = -1};
	gboolean privacy = FALSE;
	char *server = NULL, *user = NULL, *pwfile = NULL, *ca = NULL, *fp = NULL, *open = NULL;
	GOptionEntry entries[] = {
	    {"server", 0, 0, G_OPTION_ARG_STRING, &server, "IMAPS server (default: the local brev)",
	     "HOST:PORT"},
	    {"user", 0, 0, G_OPTION_ARG_STRING, &user, "login name", "ADDRESS"},
	    {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &pwfile,
	     "file with the password (mode 0600)", "FILE"},
	    {"ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, "trust the certificates in this PEM file",
	     "CERT.pem"},
	    {"fingerprint", 0, 0, G_OPTION_ARG_STRING, &fp, "pin the server certificate's SHA-256",
	     "SHA256"},
	    {"privacy", 0, 0, G_OPTION_ARG_NONE, &privacy,
	     "notifications say only \"New mail\" and a count", NULL},
	    {"open", 0, 0, G_OPTION_ARG_STRING, &open, "command for \"Open mail client\"",
	     "COMMAND"},
	    {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path_opt,
	     "configuration file (default ~/.config/brev/tray.conf)", "FILE"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL}};
	GOptionContext *ctx = g_option_context_new("— desktop notifications for new mail");
	GError *err = NULL;

	/* A server restart must not kill us through a write to a dead socket. */
	signal(SIGPIPE, SIG_IGN);
	/* Say why, rather than GOption's "Unknown option": a password in argv
	 * is readable by every user through ps and /proc. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--password") || g_str_has_prefix(argv[i], "--password=")) {
			logline("--password is refused: a password on the command line is visible to "
				"every user (ps). Put it on the first line of a file only you can read "
				"(chmod 600 FILE) and use --password-file FILE");
			g_option_context_free(ctx);
			return 1;
		}
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		logline("%s (see --help)", err->message);
		return 1;
	}
	g_option_context_free(ctx);
	if (argc > 1) {
		logline("unexpected argument %s; passwords never go on the command line "
			"(--password-file)",
			argv[1]);
		g_free(server), g_free(user), g_free(pwfile), g_free(ca), g_free(fp), g_free(open);
		return 1;
	}
	cli.server = server, cli.user = user,
	cli.password_file = pwfile ? expand_home(pwfile) : NULL;
	cli.ca = ca ? expand_home(ca) : NULL, cli.fingerprint = fp;
	cli.privacy = privacy ? 1 : -1;
	g_free(pwfile);
	g_free(ca);

	GPtrArray *sections = g_ptr_array_new();
	char *conf = config_path_opt
			 ? g_strdup(config_path_opt)
			 : g_build_filename(g_get_user_config_dir(), "brev", "tray.conf", NULL);
	if (conf_load(conf, config_path_opt != NULL, &global, sections) < 0) {
		opts_free(&cli);
		return 1;
	}
	g_free(conf);
	if (open) {
		g_free(open_command);
		open_command = open;
	}
	accounts = g_ptr_array_new();
	/* The accounts hold their own copies of the options. */
	int built = build_accounts(&cli, &global, sections);
	opts_free(&cli);
	opts_free(&global);
	if (built < 0)
		return 1;

	if (!gtk_init_check(&argc, &argv)) {
		logline(
		    "no display: brev-tray needs a desktop session (DISPLAY or WAYLAND_DISPLAY)");
		return 1;
	}
	notify_init("brev-tray");
	notify_probe();
	build_tray();
	g_unix_signal_add(SIGTERM, on_signal, NULL);
	g_unix_signal_add(SIGINT, on_signal, NULL);

	for (guint i = 0; i < accounts->len; i++) {
		struct account *a = accounts->pdata[i];
		a->pending = g_ptr_array_new_with_free_func((GDestroyNotify)tray_msg_free);
		if (password_get(a, NULL) < 0) {
			a->state = TRAY_ST_AUTHFAIL;
			g_free(a->detail);
			a->detail = g_strdup("no password");
			logline("%s: no password; this account stays offline", a->cfg.name);
			continue;
		}
		logline("%s: watching %s at %s:%s (%s)", a->cfg.name, a->cfg.user, a->cfg.host,
			a->cfg.port,
			a->cfg.fingerprint ? "certificate pinned by SHA-256"
			: a->cfg.ca	   ? "certificate checked against --ca"
					   : "certificate checked against the system store");
		start_worker(a);
	}
	update_tray();
	g_signal_connect(g_network_monitor_get_default(), "network-changed",
			 G_CALLBACK(on_network_changed), NULL);
	gtk_main();

	logline("quit");
	for (guint i = 0; i < accounts->len; i++)
		imapc_stop(&((struct account *)accounts->pdata[i])->worker);
	notify_uninit();
	/* Worker threads may still be inside OpenSSL; leave without running
	 * atexit handlers under them. */
	fflush(NULL);
	_exit(0);
}
