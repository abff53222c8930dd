/* Common set-up of the NAT tests: rules from configuration text, the shell's
 * interface addresses, and a translate call on a buffer. */
#ifndef TSUNAGI_TESTS_NAT_TEST_H
#define TSUNAGI_TESTS_NAT_TEST_H
#include "nat/nat.h"
#include "nat/nat_rules.h"
#include "tests/unit/nat_pkt.h"

/* The gateway: lan0 10.1.0.1 inside, wan0 203.0.113.1 outside. */
#define GW_IN "10.1.0.1"
#define GW_OUT "203.0.113.1"
#define NAT_CONF_DEFAULT \
	"tsunagi {\n" \
	"  nat {\n" \
	"    inside = lan0\n" \
	"    outside = wan0\n" \
	"    rules {\n" \
	"      vpn { type = exempt\n private = 10.1.0.0/16\n remote = 10.99.0.0/16 }\n" \
	"      web { type = forward\n proto = tcp\n public = wan0\n public_port = 8080\n" \
	"            private = 10.1.0.5\n private_port = 80 }\n" \
	"      dmz { type = static\n private = 10.1.9.0/24\n public = 198.51.100.0/24 }\n" \
	"      dyn { type = dynamic\n private = 10.1.3.0/24\n public = 192.0.2.10-192.0.2.11 }\n" \
	"      lan { type = pat\n private = 10.1.0.0/16\n public = wan0 }\n" \
	"    }\n" \
	"  }\n" \
	"}\n"

/* Rules from text (NULL: the error is in err); the interface addresses set. */
struct nat_rules *nat_test_rules(const char *text, char *err, size_t errlen);
/* The fixture of the translate-step tests: the default rules, a 1024-flow table
 * and a packet buffer. The teardown checks the table's invariants first. */
struct nat_fx {
	struct nat_rules *rules;
	struct nat_table *t;
	uint8_t b[2048];
	size_t n;
};
int nat_fx_setup(void **state);
int nat_fx_teardown(void **state);
struct nat_counters nat_fx_counters(struct nat_fx *f);
/* The IP and L4 checksums of p, verified by a full computation. */
void assert_csums(const uint8_t *p);

/* Translates buf (len bytes) in place; *len follows. */
enum nat_verdict xl(struct nat_table *t, uint8_t *buf, size_t *len, enum nat_side side,
    uint64_t now_ms);
#endif
