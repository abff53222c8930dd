#include <stdlib.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "tests/unit/nat_test.h"

struct nat_rules *nat_test_rules(const char *text, char *err, size_t errlen)
{
	struct ctree *tree = conf_parse_string(text, "nat.conf", err, errlen);
	if (!tree)
		return NULL;
	struct config *cfg = config_build(tree, err, errlen);
	ctree_free(tree);
	if (!cfg)
		return NULL;
	struct nat_rules *r = cfg->daemon.nat;
	cfg->daemon.nat = NULL;
	config_free(cfg);
	if (r) {
		nat_rules_set_iface_addr(r, "lan0", A(GW_IN));
		nat_rules_set_iface_addr(r, "wan0", A(GW_OUT));
	}
	return r;
}

enum nat_verdict xl(struct nat_table *t, uint8_t *buf, size_t *len, enum nat_side side,
    uint64_t now_ms)
{
	struct nat_packet p = { buf, *len, 2048, false };
	enum nat_verdict v = nat_translate(t, &p, side, now_ms);
	*len = p.len;
	return v;
}
