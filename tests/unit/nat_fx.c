/* The fixture of the translate-step unit tests (cmocka), declared in nat_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tests/unit/nat_test.h"

int nat_fx_setup(void **state)
{
	static struct nat_fx f;
	char err[256] = "";
	memset(&f, 0, sizeof(f));
	f.rules = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	if (!f.rules)
		fail_msg("%s", err);
	f.t = nat_table_new(f.rules, 1024);
	assert_non_null(f.t);
	*state = &f;
	return 0;
}

int nat_fx_teardown(void **state)
{
	struct nat_fx *f = *state;
	assert_int_equal(nat_table_check(f->t), 0);
	nat_table_free(f->t);
	nat_rules_free(f->rules);
	return 0;
}

struct nat_counters nat_fx_counters(struct nat_fx *f)
{
	struct nat_counters c;
	nat_table_counters(f->t, &c);
	return c;
}

void assert_csums(const uint8_t *p)
{
	assert_true(ip_csum_ok(p));
	assert_true(l4_csum_ok(p, 0));
}
