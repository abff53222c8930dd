/* CHILD_SAs: ESP proposals, traffic selectors (with narrowing, RFC 7296 2.9), and their
 * installation in the ESP engine through PF_KEY (SAs and policies). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"

#define SPI_MIN 0xc0000000u
#define SPI_MAX 0xcfffffffu

static uint32_t pfkey_seq;

static int pfkey_call(struct ike_sa *sa, struct buf *req, struct buf *reply);
static int core_pfkey(struct ike *core, struct buf *req, struct buf *reply);

struct child_sa *child_sa_new(struct ike_sa *sa, struct child_cfg *cc, bool initiator)
{
	struct child_sa *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = cc;
	c->uniqueid = sa->core->next_child_id++;
	c->reqid = ike_vip_reqid(sa, cc);
	c->mode = cc->mode;
	c->initiator = initiator;
	c->state = CHILD_CREATED;
	c->rekey_at = c->expire_at = MS_NEVER;
	c->prop = &proposal_none;
	if (child_set_ts(c, NULL, 0, NULL, 0) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

int child_set_ts(struct child_sa *c, const struct selector *l, size_t nl,
		 const struct selector *r, size_t nr)
{
	nl = nl < IKEV2_MAX_TS ? nl : IKEV2_MAX_TS;
	nr = nr < IKEV2_MAX_TS ? nr : IKEV2_MAX_TS;
	size_t ml = nl ? nl : 1, mr = nr ? nr : 1;
	struct selector *b = calloc(ml + mr, sizeof(*b));
	if (!b)
		return -1;
	if (nl)
		memcpy(b, l, nl * sizeof(*b));
	if (nr)
		memcpy(b + ml, r, nr * sizeof(*b));
	free(c->local_ts);
	c->local_ts = b;
	c->remote_ts = b + ml;
	c->n_local_ts = nl;
	c->n_remote_ts = nr;
	return 0;
}

/* SADB_DELETE of one SA (or of a larval SPI); the engine's errno. */
static int delete_sa_msg(struct ike *core, uint32_t spi, const struct addr *src,
			 const struct addr *dst, uint32_t reqid)
{
	struct buf req, reply;
	struct pfkey_sa d;
	memset(&d, 0, sizeof(d));
	d.spi = spi;
	d.satype = SADB_SATYPE_ESP;
	d.src = *src;
	d.dst = *dst;
	d.reqid = reqid;
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_sa(&req, SADB_DELETE, ++pfkey_seq, &d);
	int rc = core_pfkey(core, &req, &reply);
	buf_free(&req);
	buf_free(&reply);
	return rc;
}

/* The inbound SPI of a child that never got (or no longer has) an installed SA. */
static void release_spi(struct child_sa *c)
{
	if (!c->core || !c->spi_in || c->spi_released)
		return;
	c->spi_released = true;
	int rc = delete_sa_msg(c->core, c->spi_in, &c->spi_src, &c->spi_dst, c->reqid);
	if (rc && rc != ESRCH)
		log_err(LOG_KNL, "unable to release unused SPI %08x: %s", c->spi_in, strerror(rc));
}

static void keys_free(struct child_keys *k)
{
	if (k)
		wipe_free(k, sizeof(*k) + k->ekey_len + k->akey_len);
}

void child_sa_free(struct child_sa *c)
{
	if (!c)
		return;
	release_spi(c);
	keys_free(c->keys_in);
	keys_free(c->keys_out);
	free(c->local_ts);
	free(c->collision_nonce);
	proposal_release(&c->prop);
	wipe(c, sizeof(*c));
	free(c);
}

static int core_pfkey(struct ike *core, struct buf *req, struct buf *reply)
{
	if (!core->env.pfkey || req->oom)
		return EINVAL;
	return core->env.pfkey(core->env.arg, req->data, req->len, reply);
}

static int pfkey_call(struct ike_sa *sa, struct buf *req, struct buf *reply)
{
	return core_pfkey(sa->core, req, reply);
}

/* ---- proposals ---- */

static size_t esp_proposals(const struct child_cfg *cc, struct proposal *out, size_t max,
			    bool with_dh)
{
	size_t n = 0;
	char err[256];
	for (size_t i = 0; i < cc->n_esp_proposals && n < max; i++) {
		int k = proposal_parse(cc->esp_proposals[i], PROTO_ESP, out + n, max - n, err,
				       sizeof(err));
		if (k > 0)
			n += (size_t)k;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].num = (uint8_t)(i + 1);
		if (with_dh)
			continue;
		/* IKE_AUTH's child uses the IKE SA's keys: no DH transforms (RFC 7296 1.2). */
		proposal_remove_dh(&out[i]);
	}
	return n;
}

int child_offer(struct ike_sa *sa, struct child_sa *c, struct proposal *out, size_t max,
		bool with_dh)
{
	size_t n = esp_proposals(c->cfg, out, max, with_dh);
	for (size_t i = 0; i < n; i++) {
		out[i].spi_len = 4;
		put_u32(out[i].spi, c->spi_in);
	}
	return (int)n;
}

/* ---- traffic selectors ---- */

/* "dynamic" is the SA's virtual IPs where it has them (ike_vip_dynamic), else its
 * own address on that side. */
static void ts_resolve(const struct ts_cfg *ts, size_t n, const struct ike_sa *sa, bool local,
		       struct selector *out, size_t *n_out)
{
	*n_out = 0;
	for (size_t i = 0; i < n && *n_out < IKEV2_MAX_TS; i++) {
		if (ts[i].dynamic) {
			size_t k = *n_out;
			*n_out += ike_vip_dynamic(sa, local, out + *n_out, IKEV2_MAX_TS - *n_out);
			for (; k < *n_out && ts_cfg_has_ports(&ts[i]); k++) {	/* dynamic[udp/1701] */
				out[k].proto = ts[i].sel.proto;
				out[k].port_lo = ts[i].sel.port_lo;
				out[k].port_hi = ts[i].sel.port_hi;
			}
		} else
			out[(*n_out)++] = ts[i].sel;
	}
	if (n == 0)
		*n_out = ike_vip_dynamic(sa, local, out, IKEV2_MAX_TS);
}

void child_local_ts(struct ike_sa *sa, const struct child_cfg *cc, struct selector *out,
		    size_t *n)
{
	ts_resolve(cc->local_ts, cc->n_local_ts, sa, true, out, n);
}

void child_remote_ts(struct ike_sa *sa, const struct child_cfg *cc, struct selector *out,
		     size_t *n)
{
	ts_resolve(cc->remote_ts, cc->n_remote_ts, sa, false, out, n);
}

/* Narrowing: every intersection of what we allow with what they propose. */
static size_t narrow(const struct selector *ours, size_t n_ours, const struct selector *theirs,
		     size_t n_theirs, struct selector *out)
{
	size_t n = 0;
	for (size_t i = 0; i < n_theirs; i++)
		for (size_t j = 0; j < n_ours && n < IKEV2_MAX_TS; j++)
			if (selector_intersect(&theirs[i], &ours[j], &out[n]))
				n++;
	return n;
}

static void ts_list_fmt(const struct selector *ts, size_t n, char *out, size_t outlen)
{
	size_t pos = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && pos < outlen; i++) {
		char s[SELECTOR_STRLEN];
		int k = snprintf(out + pos, outlen - pos, "%s%s", i ? " " : "",
				 selector_fmt(&ts[i], s, sizeof(s)));
		if (k > 0)
			pos += (size_t)k;
	}
}

int child_select(struct ike_sa *sa, struct child_sa *c, const struct ikev2_payloads *pl,
		 bool with_dh)
{
	struct proposal mine[IKEV2_MAX_PROPOSALS], chosen;
	char tag[128];
	size_t n = esp_proposals(c->cfg, mine, IKEV2_MAX_PROPOSALS, with_dh);
	ike_sa_tag(sa, tag, sizeof(tag));
	if (!proposal_select(mine, n, pl->props, pl->n_props, &chosen)) {
		uint16_t my_dh = proposal_first_dh(mine, n);
		uint16_t their_dh = proposal_first_dh(pl->props, pl->n_props);
		if (with_dh && (my_dh == DH_NONE) != (their_dh == DH_NONE))
			log_err(LOG_IKE, "%s: PFS mismatch for CHILD_SA '%s': local requires %s, peer "
				"offers %s", tag, c->cfg->name, my_dh ? dh_name(my_dh) : "no PFS",
				their_dh ? dh_name(their_dh) : "no PFS");
		char ours[1024], theirs[1024];
		proposal_list_fmt(mine, n, ours, sizeof(ours));
		proposal_list_fmt(pl->props, pl->n_props, theirs, sizeof(theirs));
		log_err(LOG_IKE, "%s: CHILD_SA '%s' proposal mismatch: peer offered %s, local "
			"accepts %s; sending NO_PROPOSAL_CHOSEN", tag, c->cfg->name, theirs, ours);
		return N_NO_PROPOSAL_CHOSEN;
	}
	if (proposal_keep(&c->prop, &chosen) < 0)
		return N_NO_PROPOSAL_CHOSEN;
	if (c->prop->spi_len != 4) {
		log_err(LOG_IKE, "%s: ESP proposal with SPI size %u", tag, c->prop->spi_len);
		return N_INVALID_SYNTAX;
	}
	c->spi_out = get_u32(c->prop->spi);
	/* The request's TSi is the initiator's side: the remote side for us. */
	struct selector cl[IKEV2_MAX_TS], cr[IKEV2_MAX_TS];
	size_t ncl, ncr;
	child_local_ts(sa, c->cfg, cl, &ncl);
	child_remote_ts(sa, c->cfg, cr, &ncr);
	struct selector nrm[IKEV2_MAX_TS], nlc[IKEV2_MAX_TS];
	size_t n_nrm = narrow(cr, ncr, pl->tsi, pl->n_tsi, nrm);
	size_t n_nlc = narrow(cl, ncl, pl->tsr, pl->n_tsr, nlc);
	if (child_set_ts(c, nlc, n_nlc, nrm, n_nrm) < 0) {
		log_err(LOG_IKE, "%s: CHILD_SA '%s': out of memory", tag, c->cfg->name);
		return N_TEMPORARY_FAILURE;
	}
	if (c->n_local_ts == 0 || c->n_remote_ts == 0) {
		char a[512], b[512], x[512], y[512];
		ts_list_fmt(pl->tsi, pl->n_tsi, a, sizeof(a));
		ts_list_fmt(pl->tsr, pl->n_tsr, b, sizeof(b));
		ts_list_fmt(cr, ncr, x, sizeof(x));
		ts_list_fmt(cl, ncl, y, sizeof(y));
		log_err(LOG_IKE, "%s: traffic selectors %s === %s (peer's view) unacceptable for "
			"CHILD_SA '%s' configured %s === %s; sending TS_UNACCEPTABLE", tag, a, b,
			c->cfg->name, x, y);
		return N_TS_UNACCEPTABLE;
	}
	const struct xform *dh = proposal_get(c->prop, XF_DH);
	c->pfs_group = dh ? dh->id : DH_NONE;
	if (ikev2_find_notify(pl, N_USE_TRANSPORT_MODE)) {
		/* Unwilling responders answer in tunnel mode, without the notify
		 * (RFC 7296 1.3.1). */
		if (c->cfg->mode != MODE_TRANSPORT)
			log_info(LOG_IKE, "%s: peer asks for transport mode, '%s' is configured for "
				 "tunnel mode: answering in tunnel mode", tag, c->cfg->name);
	} else if (c->cfg->mode == MODE_TRANSPORT) {
		log_info(LOG_IKE, "%s: peer wants tunnel mode, using it for '%s'", tag, c->cfg->name);
		c->mode = MODE_TUNNEL;
	}
	return 0;
}

/* Responder: the first child config (or only `only`) that accepts the request. On
 * failure returns NULL and the notify to answer with in *error. */
struct child_sa *child_choose(struct ike_sa *sa, const struct ikev2_payloads *pl,
			      struct child_cfg *only, bool with_dh, uint16_t *error)
{
	*error = N_NO_PROPOSAL_CHOSEN;
	for (struct child_cfg *cc = only ? only : sa->conn->cfg->children; cc;
	     cc = only ? NULL : cc->next) {
		struct child_sa *c = child_sa_new(sa, cc, false);
		if (!c)
			return NULL;
		int rc = child_select(sa, c, pl, with_dh);
		if (rc == 0)
			return c;
		*error = (uint16_t)rc;
		child_sa_free(c);
	}
	if (!sa->conn->cfg->children) {
		char tag[128];
		log_err(LOG_CFG, "%s: connection has no children to accept a CHILD_SA",
			ike_sa_tag(sa, tag, sizeof(tag)));
	}
	return NULL;
}

/* ---- PF_KEY installation ---- */

uint32_t child_alloc_spi(struct ike_sa *sa, struct child_sa *c)
{
	struct buf req, reply;
	struct pfkey_msg m;
	struct pfkey_sa psa;
	char err[256];
	uint32_t spi = 0;
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_getspi(&req, ++pfkey_seq, &sa->remote, &sa->local, SPI_MIN, SPI_MAX, c->reqid);
	int rc = pfkey_call(sa, &req, &reply);
	if (rc == 0 && pfkey_decode(reply.data, reply.len, &m, err, sizeof(err)) == 0 &&
	    pfkey_msg_sa(&m, &psa, err, sizeof(err)) == 0) {
		spi = psa.spi;
		c->core = sa->core;
		c->spi_src = sa->remote;
		c->spi_dst = sa->local;
		c->spi_src.port = c->spi_dst.port = 0;
		c->spi_released = false;
	} else
		log_err(LOG_KNL, "unable to allocate an SPI from the ESP engine (%s)",
			rc ? strerror(rc) : err);
	buf_free(&req);
	buf_free(&reply);
	return spi;
}

/* Byte limits: the configured ones, or a shorter volume agreed with an IKEv1 peer
 * (renewal then as far before its end as configured, else at nine tenths). */
static void volume_limits(const struct child_sa *c, uint64_t *soft, uint64_t *hard)
{
	const struct child_cfg *cc = c->cfg;
	uint64_t agreed = c->agreed_life_kb * 1024;
	*soft = cc->rekey_bytes;
	*hard = cc->life_bytes;
	if (!agreed || (*hard && *hard <= agreed))
		return;
	uint64_t margin = *hard > *soft && *soft ? *hard - *soft : agreed / 10;
	if (margin >= agreed)
		margin = agreed / 10;
	*hard = agreed;
	if (!*soft || *soft > agreed - margin)
		*soft = agreed - margin;
}

/* Builds the SA in a scratch copy first: the keys may come from *out itself (a
 * re-install keeps them). */
static void fill_sa(struct ike_sa *sa, struct child_sa *c, struct pfkey_sa *out, bool inbound,
		    const uint8_t *ekey, size_t ek_len, const uint8_t *akey, size_t ak_len)
{
	const struct child_cfg *cc = c->cfg;
	const struct xform *e = proposal_get(c->prop, XF_ENCR);
	const struct xform *i = proposal_get(c->prop, XF_INTEG);
	const struct xform *esn = proposal_get(c->prop, XF_ESN);
	struct pfkey_sa tmp, *p = &tmp;
	memset(p, 0, sizeof(*p));
	p->spi = inbound ? c->spi_in : c->spi_out;
	p->satype = SADB_SATYPE_ESP;
	p->mode = c->mode == MODE_TRANSPORT ? IPSEC_MODE_TRANSPORT : IPSEC_MODE_TUNNEL;
	p->reqid = c->reqid;
	p->src = inbound ? sa->remote : sa->local;
	p->dst = inbound ? sa->local : sa->remote;
	p->src.port = p->dst.port = 0;
	pfkey_ealg_from_ikev2(e->id, e->keylen, &p->ealg);
	if (i && i->id != INTEG_NONE)
		pfkey_aalg_from_ikev2(i->id, &p->aalg);
	p->ekey_len = (uint16_t)ek_len;
	memcpy(p->ekey, ekey, ek_len);
	p->akey_len = (uint16_t)ak_len;
	if (ak_len)
		memcpy(p->akey, akey, ak_len);
	p->replay_window = inbound ? cc->replay_window : 0;
	p->esn = esn && esn->id == ESN_YES;
	p->state = SADB_SASTATE_MATURE;
	/* Time limits are the IKE core's (it rekeys); volume limits are counted where the
	 * packets are, in the engine, which sends EXPIRE. */
	uint64_t soft_bytes, hard_bytes;
	volume_limits(c, &soft_bytes, &hard_bytes);
	if (hard_bytes || cc->life_packets) {
		p->has_hard = true;
		p->hard.bytes = hard_bytes;
		p->hard.packets = cc->life_packets;
	}
	if (soft_bytes || cc->rekey_packets) {
		p->has_soft = true;
		p->soft.bytes = soft_bytes;
		p->soft.packets = cc->rekey_packets;
	}
	if (sa->natt) {
		p->natt_type = UDP_ENCAP_ESPINUDP;
		p->natt_sport = inbound ? sa->remote.port : sa->local.port;
		p->natt_dport = inbound ? sa->local.port : sa->remote.port;
	}
	/* Every negotiated selector: inbound traffic may come from any remote TS to any
	 * local TS (the policies are their cross product). */
	const struct selector *src = inbound ? c->remote_ts : c->local_ts;
	const struct selector *dst = inbound ? c->local_ts : c->remote_ts;
	size_t ns = inbound ? c->n_remote_ts : c->n_local_ts;
	size_t nd = inbound ? c->n_local_ts : c->n_remote_ts;
	p->n_sel_src = (uint8_t)(ns < PFKEY_MAX_SEL ? ns : PFKEY_MAX_SEL);
	p->n_sel_dst = (uint8_t)(nd < PFKEY_MAX_SEL ? nd : PFKEY_MAX_SEL);
	memcpy(p->sel_src, src, p->n_sel_src * sizeof(*src));
	memcpy(p->sel_dst, dst, p->n_sel_dst * sizeof(*dst));
	p->has_sel = ns && nd;
	uint16_t inner, outer;
	if (child_nat_port(sa, c, &inner, &outer)) {	/* as the policies: child_policies() */
		p->natt_oa = sa->remote;
		p->natt_oa.port = inner;
		struct selector *peer = inbound ? &p->sel_src[0] : &p->sel_dst[0];
		peer->port_lo = peer->port_hi = outer;
	}
	*out = tmp;
	wipe(&tmp, sizeof(tmp));
}

/* The SA of one direction as the child installs it now, from its kept keys. */
static void build_sa(struct ike_sa *sa, struct child_sa *c, bool inbound, struct pfkey_sa *out)
{
	const struct child_keys *k = inbound ? c->keys_in : c->keys_out;
	fill_sa(sa, c, out, inbound, k->key, k->ekey_len, k->key + k->ekey_len, k->akey_len);
}

/* Remembers where p went (its keys are the child's already). */
static void keep_where(struct child_keys *k, const struct pfkey_sa *p)
{
	k->src = p->src;
	k->dst = p->dst;
}

static struct child_keys *new_keys(const uint8_t *ekey, size_t ek, const uint8_t *akey, size_t ak)
{
	if (ek > PFKEY_KEY_MAX || ak > PFKEY_KEY_MAX)
		return NULL;
	struct child_keys *k = calloc(1, sizeof(*k) + ek + ak);
	if (!k)
		return NULL;
	k->ekey_len = (uint16_t)ek;
	memcpy(k->key, ekey, ek);
	k->akey_len = (uint16_t)ak;
	if (ak)
		memcpy(k->key + ek, akey, ak);
	return k;
}

static int install_one(struct ike_sa *sa, struct pfkey_sa *p, uint8_t type)
{
	struct buf req, reply;
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_sa(&req, type, ++pfkey_seq, p);
	int rc = pfkey_call(sa, &req, &reply);
	buf_wipe_free(&req);
	buf_free(&reply);
	if (rc)
		log_err(LOG_KNL, "unable to %s SA with SPI %08x: %s",
			type == SADB_UPDATE ? "update" : "add", p->spi, strerror(rc));
	return rc ? -1 : 0;
}

int child_install_keys(struct ike_sa *sa, struct child_sa *c, const uint8_t *ek_out,
		       const uint8_t *ak_out, const uint8_t *ek_in, const uint8_t *ak_in,
		       size_t ek, size_t ak)
{
	struct pfkey_sa in, out;
	int rc = -1;
	c->keys_in = new_keys(ek_in, ek, ak_in, ak);
	c->keys_out = new_keys(ek_out, ek, ak_out, ak);
	if (!c->keys_in || !c->keys_out)
		return -1;
	build_sa(sa, c, false, &out);
	build_sa(sa, c, true, &in);
	keep_where(c->keys_out, &out);
	keep_where(c->keys_in, &in);
	c->encap = sa->natt;
	if (install_one(sa, &in, SADB_UPDATE) == 0) {
		c->out_pending = c->defer_out;
		rc = c->out_pending ? 0 : install_one(sa, &out, SADB_ADD);
	}
	wipe(&in, sizeof(in));
	wipe(&out, sizeof(out));
	if (rc < 0)
		return -1;
	child_policies(sa, c, true);
	c->state = CHILD_INSTALLED;
	c->installed_at = sa->core->now;
	return 0;
}

int child_install(struct ike_sa *sa, struct child_sa *c, const uint8_t *gir, size_t gir_len,
		  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len)
{
	const struct xform *e = proposal_get(c->prop, XF_ENCR);
	const struct xform *i = proposal_get(c->prop, XF_INTEG);
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	if (!e || !p)
		return -1;
	size_t ek = encr_key_len(e->id, e->keylen);
	size_t ak = i && i->id != INTEG_NONE ? integ_key_len(i->id) : 0;
	uint8_t enc_i[IKE_MAX_KEY + 4], auth_i[IKE_MAX_KEY], enc_r[IKE_MAX_KEY + 4],
		auth_r[IKE_MAX_KEY];
	int rc = -1;
	if (ek == 0 || ek > sizeof(enc_i) || ak > sizeof(auth_i))
		return -1;
	if (child_derive_keys(p->id, sa->keys.sk_d, sa->keys.prf_len, gir, gir_len, ni, ni_len,
			      nr, nr_len, ek, ak, enc_i, auth_i, enc_r, auth_r) < 0)
		goto out;
	/* Keys of the exchange's initiator protect what it sends (RFC 7296 2.17). */
	bool i_sends = c->initiator;
	rc = child_install_keys(sa, c, i_sends ? enc_i : enc_r, i_sends ? auth_i : auth_r,
				i_sends ? enc_r : enc_i, i_sends ? auth_r : auth_i, ek, ak);
out:
	wipe(enc_i, sizeof(enc_i));
	wipe(enc_r, sizeof(enc_r));
	wipe(auth_i, sizeof(auth_i));
	wipe(auth_r, sizeof(auth_r));
	return rc;
}

static void policy_msg(struct ike_sa *sa, uint8_t type, uint8_t dir, const struct selector *src,
		       const struct selector *dst, uint32_t reqid, enum child_mode mode,
		       const struct addr *tsrc, const struct addr *tdst)
{
	struct pfkey_policy pol;
	struct buf req, reply;
	memset(&pol, 0, sizeof(pol));
	pol.dir = dir;
	pol.type = IPSEC_POLICY_IPSEC;
	pol.src = *src;
	pol.dst = *dst;
	pol.mode = mode == MODE_TRANSPORT ? IPSEC_MODE_TRANSPORT : IPSEC_MODE_TUNNEL;
	pol.reqid = reqid;
	if (mode == MODE_TUNNEL) {
		pol.tunnel_src = *tsrc;
		pol.tunnel_dst = *tdst;
		pol.tunnel_src.port = pol.tunnel_dst.port = 0;
	}
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_policy(&req, type, ++pfkey_seq, &pol);
	int rc = pfkey_call(sa, &req, &reply);
	if (rc && !(rc == EEXIST && type == SADB_X_SPDADD) && !(rc == ENOENT && type == SADB_X_SPDDELETE)) {
		char a[SELECTOR_STRLEN], b[SELECTOR_STRLEN];
		log_err(LOG_KNL, "unable to %s policy %s === %s %s: %s",
			type == SADB_X_SPDADD ? "install" : type == SADB_X_SPDUPDATE ? "update" : "remove",
			selector_fmt(src, a, sizeof(a)),
			selector_fmt(dst, b, sizeof(b)), dir == IPSEC_DIR_OUTBOUND ? "out" : "in",
			strerror(rc));
	}
	buf_free(&req);
	buf_free(&reply);
}

static void policies_for(struct ike_sa *sa, const struct selector *l, size_t nl,
			 const struct selector *r, size_t nr, uint32_t reqid, enum child_mode mode,
			 const struct addr *local, const struct addr *remote, uint8_t type)
{
	for (size_t i = 0; i < nl; i++) {
		for (size_t j = 0; j < nr; j++) {
			policy_msg(sa, type, IPSEC_DIR_OUTBOUND, &l[i], &r[j], reqid, mode, local, remote);
			policy_msg(sa, type, IPSEC_DIR_INBOUND, &r[j], &l[i], reqid, mode, remote, local);
		}
	}
}

void child_policies(struct ike_sa *sa, struct child_sa *c, bool add)
{
	struct selector mapped = c->remote_ts[0];
	uint16_t inner, outer;
	bool nat_port = child_nat_port(sa, c, &inner, &outer);
	if (nat_port)		/* the peer's NAT-T port stands for its inner port */
		mapped.port_lo = mapped.port_hi = outer;
	policies_for(sa, c->local_ts, c->n_local_ts, nat_port ? &mapped : c->remote_ts,
		     c->n_remote_ts, c->reqid, c->mode, &sa->local, &sa->remote,
		     add ? SADB_X_SPDADD : SADB_X_SPDDELETE);
}

/* Is another live child (e.g. its rekeyed successor) using the same policies? */
static bool reqid_in_use(struct ike_sa *sa, struct child_sa *c)
{
	for (struct child_sa *o = sa->children; o; o = o->next)
		if (o != c && o->reqid == c->reqid &&
		    (o->state == CHILD_INSTALLED || o->state == CHILD_REKEYING))
			return true;
	return false;
}

void child_uninstall(struct ike_sa *sa, struct child_sa *c, bool keep_policies)
{
	if (c->keys_in) {
		delete_sa_msg(sa->core, c->spi_in, &c->keys_in->src, &c->keys_in->dst, c->reqid);
		c->spi_released = true;
	}
	if (c->keys_out)
		delete_sa_msg(sa->core, c->spi_out, &c->keys_out->src, &c->keys_out->dst, c->reqid);
	bool trap = c->cfg->start_action == START_TRAP && sa->conn && !sa->conn->retired;
	if (!keep_policies && !trap && !reqid_in_use(sa, c) && c->n_local_ts)
		child_policies(sa, c, false);
}

void child_attach(struct ike_sa *sa, struct child_sa *c)
{
	c->next = sa->children;
	sa->children = c;
}

void child_install_pending_out(struct ike_sa *sa, struct child_sa *c)
{
	struct pfkey_sa p;
	if (!c->out_pending || !c->keys_out)
		return;
	c->out_pending = false;
	build_sa(sa, c, false, &p);
	keep_where(c->keys_out, &p);
	install_one(sa, &p, SADB_ADD);
	wipe(&p, sizeof(p));
	log_ctl(LOG_IKE, "CHILD_SA %s{%u}: outbound SA %08x now in use", c->cfg->name, c->uniqueid,
		c->spi_out);
}

/* The peer's NAT mapping moved (port, or address too): the child's SAs get the new
 * endpoints and ports with the same keys. The engine's UPDATE of the outbound SA moves
 * it to a new destination keeping its sequence number (a new SA under the same key
 * would reuse AEAD nonces); the policies' tunnel endpoints follow. Returns -1 if a
 * step failed (logged). */
static int child_rebind(struct ike_sa *sa, struct child_sa *c)
{
	bool moved = !addr_equal_ip(&c->keys_out->dst, &sa->remote);
	struct pfkey_sa p;
	int rc = 0;
	build_sa(sa, c, true, &p);
	keep_where(c->keys_in, &p);
	if (install_one(sa, &p, SADB_UPDATE) < 0)
		rc = -1;
	build_sa(sa, c, false, &p);
	keep_where(c->keys_out, &p);
	if (!c->out_pending && install_one(sa, &p, SADB_UPDATE) < 0)
		rc = -1;
	wipe(&p, sizeof(p));
	if (moved && c->mode == MODE_TUNNEL && c->n_local_ts)
		policies_for(sa, c->local_ts, c->n_local_ts, c->remote_ts, c->n_remote_ts,
			     c->reqid, c->mode, &sa->local, &sa->remote, SADB_X_SPDUPDATE);
	return rc;
}

void child_rebind_all(struct ike_sa *sa)
{
	for (struct child_sa *c = sa->children; c; c = c->next) {
		if (!c->keys_in || !c->keys_out || c->state == CHILD_DELETING ||
		    c->state == CHILD_DESTROYING)
			continue;
		if (child_rebind(sa, c) == 0)
			continue;
		/* Its SAs still point at the old address: replace them by a rekey (new
		 * SAs are installed towards the peer's current address). */
		log_err(LOG_IKE, "%s: CHILD_SA %s{%u} could not follow the peer, rekeying it",
			ike_sa_name(sa), c->cfg->name, c->uniqueid);
		if (c->state == CHILD_INSTALLED)
			c->rekey_at = sa->core->now;
	}
}

void child_detach_and_free(struct ike_sa *sa, struct child_sa *c, bool keep_policies)
{
	/* The successor of a rekeyed SA takes over its outbound traffic first, then the
	 * old SAs go: no packet finds no SA. */
	for (struct child_sa *o = sa->children; o; o = o->next)
		if (o != c && o->reqid == c->reqid && o->out_pending)
			child_install_pending_out(sa, o);
	for (struct child_sa **pp = &sa->children; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	bool was_up = c->state == CHILD_INSTALLED || c->state == CHILD_REKEYING ||
		      c->state == CHILD_REKEYED || c->state == CHILD_DELETING;
	child_uninstall(sa, c, keep_policies);
	if (was_up && sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, c, false);
	child_sa_free(c);
}

void child_schedule(struct ike_sa *sa, struct child_sa *c)
{
	const struct child_cfg *cc = c->cfg;
	struct life_spec l = { .rekey_s = cc->rekey_time, .life_s = cc->life_time,
			       .rand_s = cc->rand_time, .agreed_s = c->agreed_life_s };
	ike_life_times(sa->core->now, &l, &c->rekey_at, &c->expire_at);
}

/* start_action = trap: policies without SAs; the engine answers their first packet with
 * ACQUIRE, and ike_pfkey_input() starts the negotiation. */
void trap_install_child(struct ike *core, struct conn *conn, struct child_cfg *cc, bool add)
{
	struct ike_sa fake;
	const struct conn_cfg *cfg = conn->cfg;
	memset(&fake, 0, sizeof(fake));
	fake.core = core;
	fake.conn = conn;
	fake.my_id = fake.peer_id = &ike_no_id;
	fake.prop = &proposal_none;
	if (cfg->n_remote_addrs == 0 || addr_parse(cfg->remote_addrs[0], &fake.remote) < 0) {
		log_err(LOG_CFG, "'%s': a trap policy needs a remote address", cc->name);
		return;
	}
	if (!(cfg->n_local_addrs && addr_parse(cfg->local_addrs[0], &fake.local) == 0) &&
	    (!core->env.route_src || core->env.route_src(core->env.arg, &fake.remote, &fake.local) < 0))
		return;
	if (!cc->reqid)
		cc->reqid = ike_alloc_reqid(core, cc);
	struct selector l[IKEV2_MAX_TS], r[IKEV2_MAX_TS];
	size_t nl, nr;
	child_local_ts(&fake, cc, l, &nl);
	child_remote_ts(&fake, cc, r, &nr);
	policies_for(&fake, l, nl, r, nr, cc->reqid, cc->mode, &fake.local, &fake.remote,
		     add ? SADB_X_SPDADD : SADB_X_SPDDELETE);
	log_info(LOG_CFG, "%s trap policy for '%s' (reqid %u)", add ? "installed" : "removed",
		 cc->name, cc->reqid);
}

void trap_install(struct ike *core, struct conn *conn, bool add)
{
	for (struct child_cfg *cc = conn->cfg->children; cc; cc = cc->next)
		if (cc->start_action == START_TRAP)
			trap_install_child(core, conn, cc, add);
}
