/* Quick Mode (RFC 2409 5.5): three encrypted messages under an ISAKMP SA.
 *   QM1 I->R  HASH(1), SA, Ni [, KE] , IDci, IDcr
 *   QM2 R->I  HASH(2), SA, Nr [, KE] , IDci, IDcr
 *   QM3 I->R  HASH(3)
 * One selector pair per exchange, as IKEv1 allows. The initiator installs its SAs on
 * QM2, the responder on QM3; the responder retransmits QM2 until QM3 comes, and the
 * initiator answers a retransmitted QM2 with its cached QM3. Keys come from KEYMAT
 * per direction (each SA's own SPI) and are installed through child.c. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

static const char *tag_of(const struct ike_sa *sa)
{
	static char tag[128];
	return ike_sa_tag(sa, tag, sizeof(tag));
}

/* A selector as an ID payload: an address, a subnet or a range. */
static void put_id(struct isakmp_builder *k, const struct selector *s)
{
	size_t alen = s->family == AF_INET6 ? 16 : 4;
	bool v6 = s->family == AF_INET6;
	uint8_t data[32];
	uint16_t port = s->port_lo == s->port_hi ? s->port_lo : 0;
	int plen = selector_prefixlen(s);
	if (memcmp(s->lo, s->hi, alen) == 0) {
		isb_id(k, v6 ? ISAKMP_ID_IPV6_ADDR : ISAKMP_ID_IPV4_ADDR, s->proto, port, s->lo, alen);
		return;
	}
	memcpy(data, s->lo, alen);
	if (plen >= 0) {
		for (size_t i = 0; i < alen; i++) {
			int bits = plen - (int)i * 8;
			data[alen + i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		}
		isb_id(k, v6 ? ISAKMP_ID_IPV6_ADDR_SUBNET : ISAKMP_ID_IPV4_ADDR_SUBNET, s->proto, port,
		       data, 2 * alen);
	} else {
		memcpy(data + alen, s->hi, alen);
		isb_id(k, v6 ? ISAKMP_ID_IPV6_ADDR_RANGE : ISAKMP_ID_IPV4_ADDR_RANGE, s->proto, port,
		       data, 2 * alen);
	}
}

static void params_for(const struct ike_sa *sa, const struct child_sa *c,
		       struct isakmp_sa_params *par)
{
	bool transport = c->mode == MODE_TRANSPORT;
	memset(par, 0, sizeof(*par));
	if (sa->natt)	/* RFC 3947 5.1, or the draft's numbers */
		par->encap = ikev1_natt_encap(sa->v1->natt_ver, transport);
	else
		par->encap = transport ? ISAKMP_ENCAP_TRANSPORT : ISAKMP_ENCAP_TUNNEL;
	ikev1_life_p2_offer(c->cfg, par);
}

/* Encrypts and sends the exchange's next message with its IV. */
static int qm_encode(struct ike_sa *sa, struct ikev1_qm *q, struct isakmp_builder *k,
		     struct buf *out)
{
	int rc = ikev1_encode(sa, ISAKMP_XCHG_QM, q->msgid, k, &q->iv, out);
	isb_free(k);
	if (rc < 0)
		log_err(LOG_IKE, "%s: encoding a Quick Mode message failed", tag_of(sa));
	return rc;
}

/* ---- initiator: QM1 ---- */

void ikev1_quick_start(struct ike_sa *sa, struct child_cfg *cc)
{
	struct ikev1_sa *v = sa->v1;
	struct ikev1_qm *q = &v->qm;
	struct isakmp_builder k;
	struct isakmp_sa_params par;
	struct buf ke, out;
	if (!cc || v->state != QM_IDLE || q->active)
		return;
	ikev1_qm_clear(q);
	q->active = true;
	q->initiator = true;
	struct child_sa *c = q->child = child_sa_new(sa, cc, true);
	if (!c || !(c->spi_in = child_alloc_spi(sa, c)))
		goto fail;
	q->n_offered = (size_t)child_offer(sa, c, q->offered, V1_MAX_OFFERED, true);
	uint16_t group = proposal_first_dh(q->offered, q->n_offered);
	while (!q->msgid)
		crypto_random(&q->msgid, sizeof(q->msgid));
	if (isakmp_iv_phase2(&v->keys, &v->iv, q->msgid, &q->iv) < 0)
		goto fail;
	crypto_random(q->ni, V1_NONCE_LEN);
	q->ni_len = V1_NONCE_LEN;
	struct selector l[IKEV2_MAX_TS], r[IKEV2_MAX_TS];
	size_t nl, nr;
	child_local_ts(sa, cc, l, &nl);
	child_remote_ts(sa, cc, r, &nr);
	if (child_set_ts(c, l, 1, r, 1) < 0)
		goto fail;
	if (nl > 1 || nr > 1)
		log_info(LOG_IKE, "%s: IKEv1 negotiates one selector pair: using %s's first",
			 tag_of(sa), cc->name);
	params_for(sa, c, &par);
	isb_init(&k);
	buf_init(&ke);
	size_t hoff = isb_hash(&k, NULL, v->keys.prf_len);
	size_t rest = hoff + v->keys.prf_len;
	if (isakmp_sa_build_p2(&k, q->offered, q->n_offered, &par) < 0) {
		log_err(LOG_IKE, "%s: no ESP proposal of '%s' expressible in IKEv1", tag_of(sa),
			cc->name);
		isb_free(&k);
		goto fail;
	}
	isb_nonce(&k, q->ni, q->ni_len);
	if (group != DH_NONE) {
		if (!(q->dh = dh_new(group))) {
			isb_free(&k);
			goto fail;
		}
		dh_public(q->dh, &ke);
		isb_ke(&k, ke.data, ke.len);
		buf_free(&ke);
	}
	put_id(&k, &c->local_ts[0]);
	put_id(&k, &c->remote_ts[0]);
	if (sa->natt && c->mode == MODE_TRANSPORT)
		ikev1_add_natoa(sa, &k);
	if (k.b.oom || isakmp_hash_qm1(&v->keys, q->msgid, k.b.data + rest, k.b.len - rest,
				       k.b.data + hoff) < 0) {
		isb_free(&k);
		goto fail;
	}
	buf_init(&out);
	if (qm_encode(sa, q, &k, &out) == 0) {
		log_info(LOG_IKE, "%s: initiating Quick Mode for CHILD_SA '%s'%s", tag_of(sa),
			 cc->name, group ? " with PFS" : "");
		ikev1_send_request(sa, TASK_CHILD_CREATE, q->msgid, &out);
	}
	buf_free(&out);
	return;
fail:
	log_err(LOG_IKE, "%s: unable to start Quick Mode for '%s'", tag_of(sa), cc->name);
	ikev1_qm_clear(q);
}

/* ---- keys ---- */

/* KEYMAT for both directions (each with the receiver's SPI) and installation. */
static int install(struct ike_sa *sa, struct ikev1_qm *q, struct child_sa *c)
{
	const struct xform *e = proposal_get(c->prop, XF_ENCR);
	const struct xform *i = proposal_get(c->prop, XF_INTEG);
	if (!e)
		return -1;
	size_t ek = encr_key_len(e->id, e->keylen);
	size_t ak = i && i->id != INTEG_NONE ? integ_key_len(i->id) : 0;
	uint8_t in[2 * IKE_MAX_KEY + 4], out[2 * IKE_MAX_KEY + 4], spi[4];
	int rc = -1;
	if (ek == 0 || ek + ak > sizeof(in))
		return -1;
	const uint8_t *gxy = q->gxy.len ? q->gxy.data : NULL;
	put_u32(spi, c->spi_in);
	if (isakmp_keymat(&sa->v1->keys, gxy, q->gxy.len, ISAKMP_PROTO_ESP, spi, 4, q->ni,
			  q->ni_len, q->nr, q->nr_len, in, ek + ak) < 0)
		goto out;
	put_u32(spi, c->spi_out);
	if (isakmp_keymat(&sa->v1->keys, gxy, q->gxy.len, ISAKMP_PROTO_ESP, spi, 4, q->ni,
			  q->ni_len, q->nr, q->nr_len, out, ek + ak) < 0)
		goto out;
	rc = child_install_keys(sa, c, out, out + ek, in, in + ek, ek, ak);
out:
	wipe(in, sizeof(in));
	wipe(out, sizeof(out));
	return rc;
}

/* IKEv1 has no REKEY_SA: a new Quick Mode for the selectors of an installed CHILD_SA
 * replaces it (strongSwan does the same). The old one is not renewed again and goes at
 * the end of its lifetime. */
static void supersede(struct ike_sa *sa, struct child_sa *c)
{
	for (struct child_sa *o = sa->children; o; o = o->next) {
		if (o == c || o->cfg != c->cfg || o->state != CHILD_INSTALLED ||
		    memcmp(&o->local_ts[0], &c->local_ts[0], sizeof(c->local_ts[0])) ||
		    memcmp(&o->remote_ts[0], &c->remote_ts[0], sizeof(c->remote_ts[0])))
			continue;
		log_info(LOG_IKE, "%s: CHILD_SA %s{%u} replaces %s{%u}", tag_of(sa), c->cfg->name,
			 c->uniqueid, o->cfg->name, o->uniqueid);
		o->state = CHILD_REKEYED;
		o->rekey_at = MS_NEVER;
		ike_report_rekey(sa, sa, o, c);
	}
}

/* The child is up: attach it, schedule it, report it. */
static void child_up(struct ike_sa *sa, struct ikev1_qm *q)
{
	struct child_sa *c = q->child;
	char l[SELECTOR_STRLEN], r[SELECTOR_STRLEN], p[256];
	q->child = NULL;
	child_attach(sa, c);
	child_schedule(sa, c);
	supersede(sa, c);
	log_ctl(LOG_IKE, "CHILD_SA %s{%u} established with SPIs %08x_i %08x_o and TS %s === %s "
		"(%s, IKEv1 Quick Mode)", c->cfg->name, c->uniqueid, c->spi_in, c->spi_out,
		selector_fmt(&c->local_ts[0], l, sizeof(l)), selector_fmt(&c->remote_ts[0], r, sizeof(r)),
		proposal_fmt(c->prop, p, sizeof(p)));
	if (sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, c, true);
}

/* PFS: the peer's KE with the chosen group; the shared secret kept for KEYMAT. */
static int take_ke(struct ikev1_qm *q, const struct v1_msg *m, uint16_t group)
{
	if (group == DH_NONE)
		return m->pl.ke.p ? -1 : 0;
	if (!m->pl.ke.p || (!q->dh && !(q->dh = dh_new(group))) || dh_group(q->dh) != group)
		return -1;
	return dh_shared(q->dh, m->pl.ke.p, m->pl.ke.len, &q->gxy);
}

static bool valid_nonce(const struct v1_msg *m)
{
	return m->pl.nonce.p && m->pl.nonce.len >= ISAKMP_MIN_NONCE &&
	       m->pl.nonce.len <= ISAKMP_MAX_NONCE;
}

/* HASH must be the first payload and of the PRF's size. */
static bool hash_first(const struct ike_sa *sa, const struct v1_msg *m)
{
	return m->pl.has_hash && m->pl.hash_index == 0 && m->pl.hash.len == sa->v1->keys.prf_len;
}

/* ---- initiator: QM2 -> QM3 ---- */

static void qm2_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct ikev1_qm *q = &v->qm;
	struct child_sa *c = q->child;
	uint8_t h[IKE_MAX_PRF_OUT];
	char why[512];
	struct isakmp_choice ch;
	if (ikev1_decrypt(sa, m, &q->iv) < 0)
		return;
	if (!hash_first(sa, m) ||
	    isakmp_hash_qm2(&v->keys, q->msgid, q->ni, q->ni_len, m->plain.data + m->pl.hash_end,
			    m->pl.chain_end - m->pl.hash_end, h) < 0 ||
	    sodium_memcmp(h, m->pl.hash.p, v->keys.prf_len) != 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_INTEGRITY))
			log_err(LOG_IKE, "%s: Quick Mode HASH(2) invalid, dropped", tag_of(sa));
		return;
	}
	q->iv = m->next_iv;
	ike_request_clear(sa);
	if (!m->pl.has_sa || m->pl.n_props != 1 || !valid_nonce(m) ||
	    !isakmp_sa_select(&m->pl, q->offered, q->n_offered, &ch, why, sizeof(why)) ||
	    ch.prop.spi_len != 4) {
		log_err(LOG_IKE, "%s: Quick Mode answer for '%s' is not one of our proposals",
			tag_of(sa), c->cfg->name);
		goto fail;
	}
	ikev1_log_natoa(sa, m);
	if (proposal_keep(&c->prop, &ch.prop) < 0)
		goto fail;
	c->spi_out = get_u32(ch.prop.spi);
	const struct xform *dh = proposal_get(c->prop, XF_DH);
	c->pfs_group = dh ? dh->id : DH_NONE;
	ikev1_life_p2_take(c, &ch.params, &m->pl);
	memcpy(q->nr, m->pl.nonce.p, m->pl.nonce.len);
	q->nr_len = m->pl.nonce.len;
	if (take_ke(q, m, c->pfs_group) < 0) {
		log_err(LOG_IKE, "%s: Quick Mode answer with missing or invalid KE", tag_of(sa));
		goto fail;
	}
	struct isakmp_builder k;
	struct buf out;
	isb_init(&k);
	size_t hoff = isb_hash(&k, NULL, v->keys.prf_len);
	buf_init(&out);
	if (k.b.oom || isakmp_hash_qm3(&v->keys, q->msgid, q->ni, q->ni_len, q->nr, q->nr_len,
				       k.b.data + hoff) < 0 || qm_encode(sa, q, &k, &out) < 0) {
		isb_free(&k);
		buf_free(&out);
		goto fail;
	}
	if (install(sa, q, c) < 0) {
		buf_free(&out);
		goto fail;
	}
	ikev1_send_response(sa, m, &out);
	buf_free(&out);
	child_up(sa, q);
	ikev1_qm_clear(q);
	ike_request_done(sa);
	return;
fail:
	ikev1_qm_clear(q);
	ike_request_done(sa);
}

/* ---- responder: QM1 -> QM2, QM3 ---- */

/* Transport mode across a NAT (L2TP/IPsec clients such as Windows and macOS): the
 * peer's selector for itself is its address before its NAT, and its selector for us
 * the address it sent to (our public one, when we are behind a static NAT). Such a
 * host selector stands for the address we see; the SA and its policies are for that
 * address, with the protocol and ports the peer asked for. */
static void nat_substitute(const struct ike_sa *sa, const struct child_cfg *cc,
			   struct selector *li, struct selector *ri)
{
	struct selector *s[2] = { li, ri };
	const struct addr *seen[2] = { &sa->local, &sa->remote };
	bool nat[2] = { sa->nat_here, sa->nat_there };
	if (cc->mode != MODE_TRANSPORT || !sa->natt)
		return;
	for (int i = 0; i < 2; i++) {
		size_t alen = s[i]->family == AF_INET6 ? 16 : 4;
		if (!nat[i] || s[i]->family != seen[i]->family ||
		    memcmp(s[i]->lo, s[i]->hi, alen) != 0)
			continue;
		memcpy(s[i]->lo, seen[i]->u.b, alen);
		memcpy(s[i]->hi, seen[i]->u.b, alen);
	}
}

/* The child config whose proposals and selectors accept QM1; NULL with the notify. */
static struct child_sa *choose(struct ike_sa *sa, const struct v1_msg *m,
			       struct isakmp_choice *ch, uint16_t *error)
{
	struct selector ri, li;	/* IDci is the peer's side, IDcr ours */
	char why[512] = "";
	*error = ISAKMP_N_NO_PROPOSAL_CHOSEN;
	if (m->pl.n_id == 2) {
		if (isakmp_id_to_selector(&m->pl.id[0], &ri) < 0 ||
		    isakmp_id_to_selector(&m->pl.id[1], &li) < 0) {
			*error = ISAKMP_N_INVALID_ID_INFORMATION;
			return NULL;
		}
	} else {
		selector_from_addr(&ri, &sa->remote);
		selector_from_addr(&li, &sa->local);
	}
	struct selector peer_li = li, peer_ri = ri;
	for (struct child_cfg *cc = sa->conn->cfg->children; cc; cc = cc->next) {
		struct proposal mine[V1_MAX_OFFERED];
		struct selector l[IKEV2_MAX_TS], r[IKEV2_MAX_TS];
		size_t nl, nr;
		bool ts_ok = false;
		li = peer_li;
		ri = peer_ri;
		nat_substitute(sa, cc, &li, &ri);
		child_local_ts(sa, cc, l, &nl);
		child_remote_ts(sa, cc, r, &nr);
		for (size_t i = 0; i < nl && !ts_ok; i++)
			for (size_t j = 0; j < nr && !ts_ok; j++)
				ts_ok = selector_within(&li, &l[i]) && selector_within(&ri, &r[j]);
		if (!ts_ok) {
			*error = ISAKMP_N_INVALID_ID_INFORMATION;
			continue;
		}
		struct child_sa *c = child_sa_new(sa, cc, false);
		if (!c)
			return NULL;
		size_t n = (size_t)child_offer(sa, c, mine, V1_MAX_OFFERED, true);
		if (isakmp_sa_select(&m->pl, mine, n, ch, why, sizeof(why)) && ch->prop.spi_len == 4) {
			if (child_set_ts(c, &li, 1, &ri, 1) < 0) {
				child_sa_free(c);
				return NULL;
			}
			return c;
		}
		*error = ISAKMP_N_NO_PROPOSAL_CHOSEN;
		log_err(LOG_IKE, "%s: CHILD_SA '%s' proposal mismatch: %s", tag_of(sa), cc->name, why);
		child_sa_free(c);
	}
	return NULL;
}

/* Both sides began a Quick Mode at once (both renewing a CHILD_SA, say). IKEv1 has no
 * rule for it; ours: the ISAKMP SA's responder gives way (its own exchange is dropped,
 * and begun again afterwards if it was for another CHILD_SA config), the initiator
 * answers the peer's and keeps its own, as strongSwan does on both sides. Returns the
 * config to try again. */
static struct child_cfg *give_way(struct ike_sa *sa, const struct child_sa *theirs)
{
	struct ikev1_qm *q = &sa->v1->qm;
	if (!q->active || sa->initiator)
		return NULL;
	struct child_cfg *mine = q->child ? q->child->cfg : NULL;
	log_info(LOG_IKE, "%s: Quick Mode collision: the peer's goes first", tag_of(sa));
	if (sa->req.kind == TASK_CHILD_CREATE && sa->req.msgid == q->msgid)
		ike_request_clear(sa);
	ikev1_qm_clear(q);
	return mine != theirs->cfg ? mine : NULL;
}

static bool msgid_seen(const struct ikev1_sa *v, uint32_t msgid)
{
	size_t n = sizeof(v->seen_msgid) / sizeof(v->seen_msgid[0]);
	for (size_t i = 0; i < n && i < v->n_seen; i++)
		if (v->seen_msgid[i] == msgid)
			return true;
	return false;
}

static void qm1_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct ikev1_qm *q = &v->qm_r;
	struct isakmp_iv iv;
	struct isakmp_choice ch;
	uint8_t h[IKE_MAX_PRF_OUT];
	uint16_t error;
	if (m->hdr.msgid == 0 || isakmp_iv_phase2(&v->keys, &v->iv, m->hdr.msgid, &iv) < 0 ||
	    ikev1_decrypt(sa, m, &iv) < 0)
		return;
	if (!hash_first(sa, m) ||
	    isakmp_hash_qm1(&v->keys, m->hdr.msgid, m->plain.data + m->pl.hash_end,
			    m->pl.chain_end - m->pl.hash_end, h) < 0 ||
	    sodium_memcmp(h, m->pl.hash.p, v->keys.prf_len) != 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_INTEGRITY))
			log_err(LOG_IKE, "%s: Quick Mode HASH(1) invalid, dropped", tag_of(sa));
		return;
	}
	if (msgid_seen(v, m->hdr.msgid)) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_info(LOG_IKE, "%s: Quick Mode %08x replayed, dropped", tag_of(sa),
				 m->hdr.msgid);
		return;
	}
	v->seen_msgid[v->n_seen++ % (sizeof(v->seen_msgid) / sizeof(v->seen_msgid[0]))] =
		m->hdr.msgid;
	if (!m->pl.has_sa || !valid_nonce(m)) {
		ikev1_notify_protected(sa, ISAKMP_N_PAYLOAD_MALFORMED, ISAKMP_PROTO_ISAKMP, NULL, 0);
		return;
	}
	/* A new Quick Mode from the peer replaces its earlier one still waiting for QM3. */
	ikev1_qm_clear(q);
	struct child_sa *c = choose(sa, m, &ch, &error);
	if (!c) {
		log_err(LOG_IKE, "%s: no acceptable Quick Mode proposal; sending %s", tag_of(sa),
			ikev1_notify_name(error));
		ikev1_notify_protected(sa, error, ISAKMP_PROTO_ESP, NULL, 0);
		return;
	}
	if (proposal_keep(&c->prop, &ch.prop) < 0) {
		child_sa_free(c);
		return;
	}
	struct child_cfg *retry = give_way(sa, c);
	q->active = true;
	q->msgid = m->hdr.msgid;
	q->iv = m->next_iv;
	q->child = c;
	c->spi_out = get_u32(ch.prop.spi);
	const struct xform *dh = proposal_get(c->prop, XF_DH);
	c->pfs_group = dh ? dh->id : DH_NONE;
	c->mode = isakmp_encap_is_tunnel(ch.params.encap) || !ch.params.encap ? MODE_TUNNEL :
										 MODE_TRANSPORT;
	child_nat_reqid(sa, c);
	ikev1_log_natoa(sa, m);
	memcpy(q->ni, m->pl.nonce.p, m->pl.nonce.len);
	q->ni_len = m->pl.nonce.len;
	crypto_random(q->nr, V1_NONCE_LEN);
	q->nr_len = V1_NONCE_LEN;
	if (take_ke(q, m, c->pfs_group) < 0) {
		log_err(LOG_IKE, "%s: Quick Mode KE missing or invalid for %s", tag_of(sa),
			c->pfs_group ? dh_name(c->pfs_group) : "no PFS");
		ikev1_notify_protected(sa, ISAKMP_N_INVALID_KEY_INFORMATION, ISAKMP_PROTO_ESP, NULL, 0);
		ikev1_qm_clear(q);
		return;
	}
	if (!(c->spi_in = child_alloc_spi(sa, c))) {
		ikev1_qm_clear(q);
		return;
	}
	uint8_t spi[4];
	put_u32(spi, c->spi_in);
	struct isakmp_builder k;
	struct buf ke, out;
	isb_init(&k);
	buf_init(&ke);
	buf_init(&out);
	size_t hoff = isb_hash(&k, NULL, v->keys.prf_len);
	size_t rest = hoff + v->keys.prf_len;
	isakmp_sa_build_reply(&k, &m->pl, &ch, spi, 4);
	isb_nonce(&k, q->nr, q->nr_len);
	if (q->dh) {
		dh_public(q->dh, &ke);
		isb_ke(&k, ke.data, ke.len);
	}
	for (size_t i = 0; i < m->pl.n_id; i++)
		isb_id(&k, m->pl.id[i].type, m->pl.id[i].proto, m->pl.id[i].port, m->pl.id[i].data,
		       m->pl.id[i].len);
	if (ikev1_life_p2_agree(c, &ch.params))	/* ours is the shorter: say so */
		ikev1_life_p2_notify(&k, c);
	if (sa->natt && c->mode == MODE_TRANSPORT)
		ikev1_add_natoa(sa, &k);
	buf_free(&ke);
	if (k.b.oom || isakmp_hash_qm2(&v->keys, q->msgid, q->ni, q->ni_len, k.b.data + rest,
				       k.b.len - rest, k.b.data + hoff) < 0 ||
	    qm_encode(sa, q, &k, &out) < 0) {
		isb_free(&k);
		buf_free(&out);
		ikev1_qm_clear(q);
		return;
	}
	ikev1_send_response(sa, m, &out);
	/* Until QM3 comes, QM2 is retransmitted (if nothing of ours is outstanding). */
	if (sa->req.kind == TASK_NONE)
		ikev1_arm_retransmit(sa, TASK_CHILD_CREATE, q->msgid, &out);
	buf_free(&out);
	if (retry)	/* runs once this exchange is done */
		ike_sa_queue(sa, TASK_CHILD_CREATE, retry, 0);
}

static void qm3_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct ikev1_qm *q = &v->qm_r;
	uint8_t h[IKE_MAX_PRF_OUT];
	if (ikev1_decrypt(sa, m, &q->iv) < 0)
		return;
	if (!hash_first(sa, m) ||
	    isakmp_hash_qm3(&v->keys, q->msgid, q->ni, q->ni_len, q->nr, q->nr_len, h) < 0 ||
	    sodium_memcmp(h, m->pl.hash.p, v->keys.prf_len) != 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_INTEGRITY))
			log_err(LOG_IKE, "%s: Quick Mode HASH(3) invalid, dropped", tag_of(sa));
		return;
	}
	if (sa->req.kind == TASK_CHILD_CREATE && sa->req.msgid == q->msgid)
		ike_request_clear(sa);
	if (install(sa, q, q->child) == 0)
		child_up(sa, q);
	else
		log_err(LOG_IKE, "%s: installing CHILD_SA '%s' failed", tag_of(sa), q->child->cfg->name);
	ikev1_qm_clear(q);
	ike_sa_run_tasks(sa);
}

void ikev1_quick_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_qm *q = &sa->v1->qm, *r = &sa->v1->qm_r;
	if (sa->v1->state != QM_IDLE || !(m->hdr.flags & ISAKMP_FLAG_E)) {
		/* A Quick Mode before Phase 1 is complete, or in the clear. */
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_info(LOG_IKE, "%s: Quick Mode in %s dropped", tag_of(sa),
				 ikev1_state_name(sa->v1->state));
		return;
	}
	if (q->active && q->msgid == m->hdr.msgid)
		qm2_in(sa, m);
	else if (r->active && r->msgid == m->hdr.msgid)
		qm3_in(sa, m);
	else
		qm1_in(sa, m);
}
