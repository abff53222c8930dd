/* Fuzzes the IKEv2 configuration payload codec (ike/ikev2_cp.c). The input is a CP
 * payload body (type, reserved, attributes). Whatever it holds, parsing must not read
 * outside it and keeps its counts within bounds; what parsed is rebuilt with ikb_cp and
 * parsed again: the values (addresses, servers, subnets) must come back the same and
 * the rebuilt payload has no bad attribute. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ikev2_cp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_ikev2_cp: %s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #cond);                                     \
			abort();                                                        \
		}                                                                       \
	} while (0)

static void same_addrs(const struct addr *a, size_t na, const struct addr *b, size_t nb)
{
	CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		CHECK(addr_equal_ip(&a[i], &b[i]));
}

static void round_trip(const struct ikev2_cp *cp)
{
	struct ikev2_builder k;
	struct ikev2_cp again;
	const char *err = NULL;
	ikb_init(&k);
	ikb_cp(&k, cp);
	CHECK(!k.b.oom && k.b.len >= 8);
	CHECK(ikev2_cp_parse(k.b.data + 4, k.b.len - 4, &again, &err) == 0);
	CHECK(again.n_unknown == 0 && again.n_repeated == 0 && again.n_malformed == 0);
	CHECK(again.type == cp->type);
	CHECK(addr_equal_ip(&again.ip4, &cp->ip4) || (!again.ip4.family && !cp->ip4.family));
	CHECK(addr_equal_ip(&again.ip6, &cp->ip6) || (!again.ip6.family && !cp->ip6.family));
	CHECK(addr_equal_ip(&again.netmask, &cp->netmask) ||
	      (!again.netmask.family && !cp->netmask.family));
	same_addrs(again.dns, again.n_dns, cp->dns, cp->n_dns);
	same_addrs(again.nbns, again.n_nbns, cp->nbns, cp->n_nbns);
	CHECK(again.n_subnets == cp->n_subnets);
	for (size_t i = 0; i < cp->n_subnets; i++)
		if (selector_prefixlen(&cp->subnets[i]) >= 0)
			CHECK(selector_equal(&again.subnets[i], &cp->subnets[i]));
	if (cp->type == CFG_REQUEST)
		CHECK(again.want_ip4 == cp->want_ip4 && again.want_ip6 == cp->want_ip6 &&
		      again.want_netmask == cp->want_netmask);
	ikb_free(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ikev2_cp cp;
	const char *err = NULL;
	if (ikev2_cp_parse(data, size, &cp, &err) < 0) {
		CHECK(size < 4 && err != NULL);
		return 0;
	}
	CHECK(cp.n_dns <= CP_MAX_SERVERS * 2 && cp.n_nbns <= CP_MAX_SERVERS);
	CHECK(cp.n_subnets <= CP_MAX_SUBNETS);
	CHECK(!cp.bad_why == !(cp.n_unknown + cp.n_repeated + cp.n_malformed));
	(void)ikev2_cfg_attr_name(cp.bad_type);
	round_trip(&cp);
	return 0;
}
