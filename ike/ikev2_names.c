/* Names for logs, as strongSwan prints them, so operators can compare both sides. */
#include <stdio.h>
#include <string.h>

#include "ike/eap.h"
#include "ike/ikev2_msg.h"

const char *ikev2_exchange_name(uint8_t x)
{
	switch (x) {
	case IKE_SA_INIT: return "IKE_SA_INIT";
	case IKE_AUTH: return "IKE_AUTH";
	case CREATE_CHILD_SA: return "CREATE_CHILD_SA";
	case INFORMATIONAL: return "INFORMATIONAL";
	}
	return "UNKNOWN_EXCHANGE";
}

const char *ikev2_notify_name(uint16_t type)
{
	static const struct { uint16_t t; const char *n; } names[] = {
		{ N_UNSUPPORTED_CRITICAL_PAYLOAD, "UNSUPPORTED_CRITICAL_PAYLOAD" },
		{ N_INVALID_IKE_SPI, "INVALID_IKE_SPI" },
		{ N_INVALID_MAJOR_VERSION, "INVALID_MAJOR_VERSION" },
		{ N_INVALID_SYNTAX, "INVALID_SYNTAX" },
		{ N_INVALID_MESSAGE_ID, "INVALID_MESSAGE_ID" },
		{ N_INVALID_SPI, "INVALID_SPI" },
		{ N_NO_PROPOSAL_CHOSEN, "NO_PROPOSAL_CHOSEN" },
		{ N_INVALID_KE_PAYLOAD, "INVALID_KE_PAYLOAD" },
		{ N_AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED" },
		{ N_SINGLE_PAIR_REQUIRED, "SINGLE_PAIR_REQUIRED" },
		{ N_NO_ADDITIONAL_SAS, "NO_ADDITIONAL_SAS" },
		{ N_INTERNAL_ADDRESS_FAILURE, "INTERNAL_ADDRESS_FAILURE" },
		{ N_FAILED_CP_REQUIRED, "FAILED_CP_REQUIRED" },
		{ N_TS_UNACCEPTABLE, "TS_UNACCEPTABLE" },
		{ N_INVALID_SELECTORS, "INVALID_SELECTORS" },
		{ N_TEMPORARY_FAILURE, "TEMPORARY_FAILURE" },
		{ N_CHILD_SA_NOT_FOUND, "CHILD_SA_NOT_FOUND" },
		{ N_INITIAL_CONTACT, "INITIAL_CONTACT" },
		{ N_SET_WINDOW_SIZE, "SET_WINDOW_SIZE" },
		{ N_ADDITIONAL_TS_POSSIBLE, "ADDITIONAL_TS_POSSIBLE" },
		{ N_IPCOMP_SUPPORTED, "IPCOMP_SUPPORTED" },
		{ N_NAT_DETECTION_SOURCE_IP, "NATD_S_IP" },
		{ N_NAT_DETECTION_DESTINATION_IP, "NATD_D_IP" },
		{ N_COOKIE, "COOKIE" },
		{ N_USE_TRANSPORT_MODE, "USE_TRANSP" },
		{ N_HTTP_CERT_LOOKUP_SUPPORTED, "HASH_URL_SUP" },
		{ N_REKEY_SA, "REKEY_SA" },
		{ N_ESP_TFC_PADDING_NOT_SUPPORTED, "ESP_TFC_PAD_N" },
		{ N_NON_FIRST_FRAGMENTS_ALSO, "NON_FIRST_FRAG" },
		{ N_MOBIKE_SUPPORTED, "MOBIKE_SUP" },
		{ N_MULTIPLE_AUTH_SUPPORTED, "MULT_AUTH" },
		{ N_IKEV2_FRAGMENTATION_SUPPORTED, "FRAG_SUP" },
		{ N_SIGNATURE_HASH_ALGORITHMS, "HASH_ALG" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == type)
			return names[i].n;
	return NULL;
}

const char *ikev2_payload_name(uint8_t type)
{
	switch (type) {
	case PL_SA: return "SA";
	case PL_KE: return "KE";
	case PL_IDI: return "IDi";
	case PL_IDR: return "IDr";
	case PL_CERT: return "CERT";
	case PL_CERTREQ: return "CERTREQ";
	case PL_AUTH: return "AUTH";
	case PL_NONCE: return "No";
	case PL_NOTIFY: return "N";
	case PL_DELETE: return "D";
	case PL_VENDOR: return "V";
	case PL_TSI: return "TSi";
	case PL_TSR: return "TSr";
	case PL_SK: return "SK";
	case PL_CP: return "CP";
	case PL_EAP: return "EAP";
	case PL_SKF: return "EF";
	}
	return "?";
}

static void append(char *out, size_t outlen, size_t *pos, const char *s)
{
	int n = snprintf(out + *pos, *pos < outlen ? outlen - *pos : 0, "%s", s);
	if (n > 0)
		*pos += (size_t)n;
}

void ikev2_describe(const struct ikev2_hdr *h, const struct ikev2_payloads *pl, char *out,
		    size_t outlen)
{
	char tmp[64];
	size_t pos = 0;
	snprintf(tmp, sizeof(tmp), "%s %s %u [", ikev2_exchange_name(h->exchange),
		 h->flags & IKEV2_FLAG_RESPONSE ? "response" : "request", h->msgid);
	append(out, outlen, &pos, tmp);
	if (pl->has_idi) append(out, outlen, &pos, " IDi");
	if (pl->has_idr) append(out, outlen, &pos, " IDr");
	for (size_t i = 0; i < pl->n_certs + pl->n_certs_over; i++)
		append(out, outlen, &pos, " CERT");
	if (pl->has_certreq) append(out, outlen, &pos, " CERTREQ");
	if (pl->has_auth) append(out, outlen, &pos, " AUTH");
	if (pl->has_sa) append(out, outlen, &pos, " SA");
	if (pl->has_ke) append(out, outlen, &pos, " KE");
	if (pl->nonce) append(out, outlen, &pos, " No");
	if (pl->has_tsi) append(out, outlen, &pos, " TSi");
	if (pl->has_tsr) append(out, outlen, &pos, " TSr");
	for (size_t i = 0; i < pl->n_del; i++)
		append(out, outlen, &pos, pl->del[i].proto == PROTO_IKE ? " D(IKE)" : " D(ESP)");
	for (size_t i = 0; i < pl->n_notify; i++) {
		const char *n = ikev2_notify_name(pl->notify[i].type);
		if (n)
			snprintf(tmp, sizeof(tmp), " N(%s)", n);
		else
			snprintf(tmp, sizeof(tmp), " N(%u)", pl->notify[i].type);
		append(out, outlen, &pos, tmp);
	}
	if (pl->n_vendor) append(out, outlen, &pos, " V");
	if (pl->has_cp) append(out, outlen, &pos, " CP");
	if (pl->has_eap) {	/* "EAP/REQ/MSCHAPV2", as strongSwan names it */
		tmp[0] = ' ';
		eap_describe(pl->eap, pl->eap_len, tmp + 1, sizeof(tmp) - 1);
		append(out, outlen, &pos, tmp);
	}
	append(out, outlen, &pos, " ]");
}
