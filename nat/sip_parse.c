/* SIP and SDP text: where the addresses and ports are, and the message built
 * again with some replaced (see sip_parse.h). A cursor never passes the end it
 * was given; header values are scanned in place, folds included, so that every
 * offset points into the caller's bytes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nat/sip_parse.h"

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_token(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       (c && strchr("-.!%*_+`'~", c));
}

/* Skips blanks and folds (a line end followed by a blank) inside a value. */
static size_t lws(const uint8_t *p, size_t i, size_t end)
{
	for (;;) {
		if (i < end && is_wsp(p[i])) {
			i++;
			continue;
		}
		size_t j = i < end && p[i] == '\r' ? i + 1 : i;
		if (j + 1 < end && p[j] == '\n' && is_wsp(p[j + 1])) {
			i = j + 1;
			continue;
		}
		return i;
	}
}

/* The first LF at or after i, or end. */
static size_t find_lf(const uint8_t *p, size_t i, size_t end)
{
	const uint8_t *q = i < end ? memchr(p + i, '\n', end - i) : NULL;
	return q ? (size_t)(q - p) : end;
}

/* The end of a line's content (before CR LF or LF) whose LF is at lf. */
static size_t content_end(const uint8_t *p, size_t start, size_t lf)
{
	return lf > start && p[lf - 1] == '\r' ? lf - 1 : lf;
}

static bool word_is(const uint8_t *p, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp((const char *)p, w, len) == 0;
}

int sip_ipv4(const uint8_t *s, size_t len, uint32_t *addr)
{
	uint32_t a = 0;
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part && (i >= len || s[i++] != '.'))
			return -1;
		size_t start = i;
		unsigned v = 0;
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255)
			return -1;
		a = a << 8 | v;
	}
	if (i != len)
		return -1;
	*addr = a;
	return 0;
}

/* Up to 5 digits at p[i..end) below 65536: their count, 0 if none or too big. */
static size_t port_at(const uint8_t *p, size_t i, size_t end, uint16_t *port)
{
	size_t n = 0;
	uint32_t v = 0;
	while (i + n < end && is_digit(p[i + n]) && n < 6)
		v = v * 10 + (uint32_t)(p[i + n++] - '0');
	if (n == 0 || n > 5 || v > 65535)
		return 0;
	*port = (uint16_t)v;
	return n;
}

static int add_site(struct sip_msg *m, enum sip_site_kind kind, size_t off, size_t host_len,
    size_t len, uint32_t addr, bool has_port, uint16_t port, int media)
{
	if (m->n_site == SIP_MAX_SITES)
		return SIP_TOO_MANY;
	m->site[m->n_site++] = (struct sip_site){ .kind = (uint8_t)kind, .has_port = has_port,
		.port = port, .addr = addr, .off = (uint32_t)off, .len = (uint32_t)len,
		.host_len = (uint32_t)host_len, .media = media };
	return 0;
}

/* host[:port] at p[i..end): a name, an IPv4 address or an [IPv6] reference. */
static int hostport(struct sip_msg *m, enum sip_site_kind kind, const uint8_t *p, size_t i,
    size_t end)
{
	size_t h = i;
	if (h < end && p[h] == '[') {
		while (h < end && p[h] != ']')
			h++;
		if (h == end)
			return SIP_MALFORMED;
		h++;
	} else {
		while (h < end && (is_token(p[h]) && p[h] != '!' && p[h] != '%' && p[h] != '*'))
			h++;
	}
	if (h == i)
		return SIP_MALFORMED;
	uint32_t addr = 0;
	if (sip_ipv4(p + i, h - i, &addr) < 0)
		addr = 0;
	uint16_t port = 0;
	size_t n = 0;
	if (h < end && p[h] == ':' && (n = port_at(p, h + 1, end, &port)) == 0)
		return SIP_MALFORMED;
	return add_site(m, kind, i, h - i, h - i + (n ? n + 1 : 0), addr, n != 0, port, -1);
}

/* A SIP URI in p[i..end): its host[:port] as a site; other schemes have none. */
static int uri(struct sip_msg *m, enum sip_site_kind kind, const uint8_t *p, size_t i,
    size_t end)
{
	size_t s = i;
	if (end - i >= 4 && strncasecmp((const char *)p + i, "sip:", 4) == 0)
		s = i + 4;
	else if (end - i >= 5 && strncasecmp((const char *)p + i, "sips:", 5) == 0)
		s = i + 5;
	else
		return 0;
	const uint8_t *at = memchr(p + s, '@', end - s);
	if (at)
		s = (size_t)(at - p) + 1;
	return hostport(m, kind, p, s, end);
}

/* Past a quoted string starting at p[i] == '"' (backslash escapes), or end. */
static size_t quoted(const uint8_t *p, size_t i, size_t end)
{
	for (i++; i < end; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return i + 1;
	}
	return end;
}

/* The next ',' at or after i outside quotes and <>, or end. */
static size_t next_comma(const uint8_t *p, size_t i, size_t end)
{
	bool angle = false;
	while (i < end) {
		if (p[i] == '"') {
			i = quoted(p, i, end);
			continue;
		}
		if (p[i] == '<')
			angle = true;
		else if (p[i] == '>')
			angle = false;
		else if (p[i] == ',' && !angle)
			return i;
		i++;
	}
	return end;
}

/* Via: sent-protocol LWS sent-by *( ; param ), comma separated. */
static int via(struct sip_msg *m, const uint8_t *p, size_t i, size_t end)
{
	while (i < end) {
		size_t e = next_comma(p, i, end);
		i = lws(p, i, e);
		/* SIP / 2.0 / UDP: three tokens with LWS around the slashes */
		for (int k = 0; k < 3; k++) {
			if (k && (i >= e || p[i++] != '/'))
				return SIP_MALFORMED;
			i = lws(p, i, e);
			size_t t = i;
			while (i < e && is_token(p[i]))
				i++;
			if (i == t)
				return SIP_MALFORMED;
			i = lws(p, i, e);
		}
		size_t h = i;
		while (h < e && p[h] != ';' && !is_wsp(p[h]) && p[h] != '\r' && p[h] != '\n')
			h++;
		int r = hostport(m, SITE_VIA, p, i, h);
		if (r < 0)
			return r;
		i = e + 1;
	}
	return 0;
}

/* Contact: "*" or name-addr / addr-spec, with parameters, comma separated. */
static int contact(struct sip_msg *m, const uint8_t *p, size_t i, size_t end)
{
	while (i < end) {
		size_t e = next_comma(p, i, end);
		i = lws(p, i, e);
		size_t lt = i;
		while (lt < e && p[lt] != '<') {
			if (p[lt] == '"')
				lt = quoted(p, lt, e);
			else
				lt++;
		}
		size_t us = i, ue;
		if (lt < e) {
			us = lt + 1;
			const uint8_t *gt = memchr(p + us, '>', e - us);
			if (!gt)
				return SIP_MALFORMED;
			ue = (size_t)(gt - p);
		} else {
			/* addr-spec: what follows ';' is the header's, not the URI's */
			for (ue = us; ue < e && p[ue] != ';' && !is_wsp(p[ue]) && p[ue] != '\r' &&
			     p[ue] != '\n'; ue++)
				;
		}
		if (!(ue - us == 1 && p[us] == '*')) {
			int r = uri(m, SITE_CONTACT, p, us, ue);
			if (r < 0)
				return r;
		}
		i = e + 1;
	}
	return 0;
}

static enum sip_method method_of(const uint8_t *p, size_t len)
{
	static const struct { const char *name; enum sip_method m; } tab[] = {
		{ "INVITE", SIP_INVITE }, { "ACK", SIP_ACK }, { "BYE", SIP_BYE },
		{ "CANCEL", SIP_CANCEL }, { "REGISTER", SIP_REGISTER }, { "OPTIONS", SIP_OPTIONS },
	};
	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++)
		if (strlen(tab[k].name) == len && memcmp(p, tab[k].name, len) == 0)
			return tab[k].m;
	return SIP_OTHER;
}

/* Content-Length: digits only (LWS around). */
static int content_length(struct sip_msg *m, const uint8_t *p, size_t i, size_t end,
    size_t *clen)
{
	if (m->clen_len)
		return SIP_MALFORMED;	/* two of them: which one lies? */
	i = lws(p, i, end);
	size_t s = i;
	size_t v = 0;
	while (i < end && is_digit(p[i]) && i - s < 6)
		v = v * 10 + (size_t)(p[i++] - '0');
	if (i == s || v > SIP_MAX_CLEN || lws(p, i, end) != end)
		return SIP_MALFORMED;
	m->clen_off = (uint32_t)s;
	m->clen_len = (uint32_t)(i - s);
	*clen = v;
	return 0;
}

static int cseq(struct sip_msg *m, const uint8_t *p, size_t i, size_t end)
{
	i = lws(p, i, end);
	while (i < end && is_digit(p[i]))
		i++;
	i = lws(p, i, end);
	size_t s = i;
	while (i < end && is_token(p[i]))
		i++;
	if (i == s)
		return SIP_MALFORMED;
	m->cseq_method = method_of(p + s, i - s);
	return 0;
}

/* One header: name p[n..ne), value p[v..ve). */
static int header(struct sip_msg *m, const uint8_t *p, size_t n, size_t ne, size_t v,
    size_t ve, size_t *clen)
{
	const uint8_t *name = p + n;
	size_t len = ne - n;
	if (len == 1)
		m->compact = m->compact || strchr("vVmMlLiIcC", name[0]);
	if (word_is(name, len, "via") || word_is(name, len, "v"))
		return via(m, p, v, ve);
	if (word_is(name, len, "contact") || word_is(name, len, "m"))
		return contact(m, p, v, ve);
	if (word_is(name, len, "content-length") || word_is(name, len, "l"))
		return content_length(m, p, v, ve, clen);
	if (word_is(name, len, "cseq"))
		return cseq(m, p, v, ve);
	if (word_is(name, len, "call-id") || word_is(name, len, "i")) {
		v = lws(p, v, ve);
		m->call_id_off = (uint32_t)v;
		m->call_id_len = (uint32_t)(ve - v);
		return 0;
	}
	if (word_is(name, len, "content-type") || word_is(name, len, "c")) {
		v = lws(p, v, ve);
		m->sdp = ve - v >= 15 && strncasecmp((const char *)p + v, "application/sdp", 15) == 0 &&
			 (ve - v == 15 || p[v + 15] == ';' || is_wsp(p[v + 15]) ||
			  p[v + 15] == '\r' || p[v + 15] == '\n');
	}
	return 0;
}

/* The start line p[i..e): request or status line. */
static int start_line(struct sip_msg *m, const uint8_t *p, size_t i, size_t e)
{
	if (e - i >= 8 && memcmp(p + i, "SIP/2.0 ", 8) == 0) {
		uint16_t st = 0;
		size_t n = port_at(p, i + 8, e, &st);
		if (n != 3 || st < 100 || st > 699 || (i + 11 < e && p[i + 11] != ' '))
			return SIP_MALFORMED;
		m->status = st;
		return 0;
	}
	size_t t = i;
	while (t < e && is_token(p[t]))
		t++;
	if (t == i || t == e || p[t] != ' ' || e - i < 8 || memcmp(p + e - 8, " SIP/2.0", 8) != 0)
		return SIP_NOT_SIP;
	m->request = true;
	m->method = method_of(p + i, t - i);
	size_t us = t + 1, ue = e - 8;
	if (ue <= us || memchr(p + us, ' ', ue - us))
		return SIP_MALFORMED;
	return uri(m, SITE_URI, p, us, ue);
}

/* The address of a c= or o= line's "IN IP4 addr" at p[i..e); addr's end in *ae. */
static int sdp_addr(struct sip_msg *m, enum sip_site_kind kind, const uint8_t *p, size_t i,
    size_t e, int media)
{
	if (e - i < 7 || memcmp(p + i, "IN IP4 ", 7) != 0)
		return 0;	/* IPv6 or another network: not ours to change */
	i += 7;
	size_t a = i;
	while (a < e && p[a] != '/' && p[a] != ' ')
		a++;
	uint32_t addr;
	if (sip_ipv4(p + i, a - i, &addr) < 0)
		return 0;	/* a name (or a typo): left as it is */
	return add_site(m, kind, i, a - i, a - i, addr, false, 0, media);
}

/* The SDP body: o=, c= and m= lines; each m= learns its stream's address. */
static int sdp(struct sip_msg *m, const uint8_t *p, size_t i, size_t end)
{
	int media = -1;
	unsigned first = m->n_site;
	while (i < end) {
		size_t lf = find_lf(p, i, end), e = content_end(p, i, lf);
		int r = 0;
		if (e - i >= 2 && p[i + 1] == '=') {
			if (p[i] == 'o') {
				/* username sess-id sess-version, then IN IP4 addr */
				size_t f = i + 2;
				for (int k = 0; k < 3 && f < e; k++) {
					const uint8_t *sp = memchr(p + f, ' ', e - f);
					f = sp ? (size_t)(sp - p) + 1 : e;
				}
				r = sdp_addr(m, SITE_SDP_O, p, f, e, media);
			} else if (p[i] == 'c') {
				r = sdp_addr(m, SITE_SDP_C, p, i + 2, e, media);
			} else if (p[i] == 'm') {
				const uint8_t *sp = memchr(p + i + 2, ' ', e - i - 2);
				uint16_t port;
				size_t n = sp ? port_at(p, (size_t)(sp - p) + 1, e, &port) : 0;
				media++;
				if (n)
					r = add_site(m, SITE_SDP_M, (size_t)(sp - p) + 1, n, n, 0, true,
					    port, media);
			}
		}
		if (r < 0)
			return r;
		i = lf + 1;
	}
	/* A stream's address: its own c=, else the session's. */
	for (unsigned k = first; k < m->n_site; k++) {
		struct sip_site *s = &m->site[k];
		if (s->kind != SITE_SDP_M)
			continue;
		for (unsigned j = first; j < m->n_site; j++) {
			const struct sip_site *c = &m->site[j];
			if (c->kind == SITE_SDP_C && (c->media == s->media ||
			    (c->media == -1 && !s->addr)))
				s->addr = c->addr;
		}
	}
	return 0;
}

int sip_parse(const uint8_t *p, size_t len, bool stream, struct sip_msg *m)
{
	memset(m, 0, sizeof(*m));
	size_t i = 0;
	while (i < len && (p[i] == '\r' || p[i] == '\n'))
		i++;	/* keepalives, and CRLFs before a message (RFC 3261 7.5) */
	if (i == len)
		return SIP_NOT_SIP;
	size_t lf = find_lf(p, i, len);
	if (lf == len)
		return stream ? SIP_PARTIAL : SIP_NOT_SIP;
	int r = start_line(m, p, i, content_end(p, i, lf));
	if (r < 0)
		return r;
	size_t clen = 0;
	for (i = lf + 1;;) {
		if (i >= len)
			return stream ? SIP_PARTIAL : SIP_MALFORMED;
		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
			m->body_off = i + (p[i] == '\r' ? 2 : 1);
			break;
		}
		size_t n = i;
		while (i < len && is_token(p[i]))
			i++;
		size_t ne = i;
		while (i < len && is_wsp(p[i]))
			i++;
		if (ne == n || i >= len || p[i] != ':')
			return i >= len && stream ? SIP_PARTIAL : SIP_MALFORMED;
		size_t v = i + 1;
		/* The value runs to a line end not followed by a blank (a fold). */
		for (lf = find_lf(p, v, len); lf + 1 < len && is_wsp(p[lf + 1]);
		     lf = find_lf(p, lf + 1, len))
			m->folded = true;
		if (lf + 1 >= len)
			return stream ? SIP_PARTIAL : SIP_MALFORMED;
		if ((r = header(m, p, n, ne, v, content_end(p, v, lf), &clen)) < 0)
			return r;
		i = lf + 1;
	}
	if (m->clen_len) {
		if (clen > len - m->body_off)
			return stream ? SIP_PARTIAL : SIP_BAD_LENGTH;
		m->body_len = clen;
	} else if (stream) {
		return SIP_MALFORMED;	/* required on a stream (RFC 3261 20.14) */
	} else {
		m->body_len = len - m->body_off;
	}
	m->len = m->body_off + m->body_len;
	if (m->sdp && (r = sdp(m, p, m->body_off, m->len)) < 0)
		return r;
	return 0;
}

/* Translating ---------------------------------------------------------------- */

struct edit {
	uint32_t off, len;	/* replaced span of the input */
	uint8_t n;
	char text[24];
};

enum edit_form { ED_ADDR, ED_ADDR_PORT, ED_NUMBER };

static void add_edit(struct edit *ed, unsigned *n, size_t off, size_t len,
    enum edit_form form, uint32_t a, unsigned num)
{
	struct edit *e = &ed[(*n)++];
	int k;
	if (form == ED_NUMBER)
		k = snprintf(e->text, sizeof(e->text), "%u", num);
	else if (form == ED_ADDR)
		k = snprintf(e->text, sizeof(e->text), "%u.%u.%u.%u", a >> 24, a >> 16 & 255,
		    a >> 8 & 255, a & 255);
	else
		k = snprintf(e->text, sizeof(e->text), "%u.%u.%u.%u:%u", a >> 24, a >> 16 & 255,
		    a >> 8 & 255, a & 255, num);
	e->off = (uint32_t)off;
	e->len = (uint32_t)len;
	e->n = (uint8_t)k;
}

/* The edit for one site, if it has one; -1 when a media port cannot be had. */
static int site_edit(const struct sip_site *s, const struct sip_map *x, struct edit *ed,
    unsigned *n)
{
	switch (s->kind) {
	case SITE_URI:
		if (!x->uri)
			return 0;
		/* fall through */
	case SITE_VIA:
	case SITE_CONTACT:
		if (s->addr != x->from_addr)
			return 0;
		if ((s->has_port ? s->port : 5060) != x->from_port)
			add_edit(ed, n, s->off, s->host_len, ED_ADDR, x->to_addr, 0);
		else if (!s->has_port && x->to_port == 5060)
			add_edit(ed, n, s->off, s->host_len, ED_ADDR, x->to_addr, 0);
		else
			add_edit(ed, n, s->off, s->len, ED_ADDR_PORT, x->to_addr, x->to_port);
		return 0;
	case SITE_SDP_O:
	case SITE_SDP_C:
		if (!x->sdp || s->addr != x->from_addr)
			return 0;
		add_edit(ed, n, s->off, s->len, ED_ADDR, x->to_addr, 0);
		return 0;
	case SITE_SDP_M:
		if (!x->sdp || s->addr != x->from_addr || s->port == 0 || !x->media)
			return 0;	/* port 0: a stream turned off */
		uint16_t pub = x->media(x->arg, s->addr, s->port);
		if (!pub)
			return -1;
		add_edit(ed, n, s->off, s->len, ED_NUMBER, 0, pub);
		return 0;
	}
	return 0;
}

long sip_translate(const uint8_t *in, const struct sip_msg *m, const struct sip_map *x,
    uint8_t *out, size_t cap)
{
	struct edit ed[SIP_MAX_SITES + 1];
	unsigned n = 0;
	long body_delta = 0;
	for (unsigned k = 0; k < m->n_site; k++) {
		unsigned before = n;
		if (site_edit(&m->site[k], x, ed, &n) < 0)
			return SIP_NO_MEDIA;
		if (n > before && ed[before].off >= m->body_off)
			body_delta += (long)ed[before].n - (long)ed[before].len;
	}
	if (m->clen_len && body_delta) {
		/* Sites come in text order and the body's last: put it in its place. */
		unsigned at = 0;
		while (at < n && ed[at].off < m->clen_off)
			at++;
		memmove(&ed[at + 1], &ed[at], (n - at) * sizeof(ed[0]));
		n++;
		add_edit(ed, &at, m->clen_off, m->clen_len, ED_NUMBER, 0,
		    (unsigned)((long)m->body_len + body_delta));
	}
	size_t o = 0, i = 0;
	for (unsigned k = 0; k <= n; k++) {
		size_t upto = k < n ? ed[k].off : m->len;
		if (upto < i || upto - i > cap - o)
			return upto < i ? SIP_MALFORMED : SIP_NO_ROOM;
		memcpy(out + o, in + i, upto - i);
		o += upto - i;
		if (k == n)
			break;
		if (ed[k].n > cap - o)
			return SIP_NO_ROOM;
		memcpy(out + o, ed[k].text, ed[k].n);
		o += ed[k].n;
		i = upto + ed[k].len;
	}
	return (long)o;
}
