/* daemon/nat_fw_check.c's readers of kernel messages (fw_parse_chain,
 * fw_parse_rule, fw_parse_spdinfo) on arbitrary bytes, as mnl_cb_run would hand
 * them over: one message whose nlmsg_len never runs past what was read. A chain
 * or rule they accept goes through the decision too. Nothing may read past the
 * message, and a rule is ours only with exactly one jump to TSUNAGI-NAT. */
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "daemon/nat_fw_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < sizeof(struct nlmsghdr))
		return 0;
	struct nlmsghdr *nlh = malloc(size);	/* exact: ASan sees a read past it */
	if (!nlh)
		return 0;
	memcpy(nlh, data, size);
	if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > size)
		nlh->nlmsg_len = (uint32_t)size;	/* mnl_nlmsg_ok's guarantee */
	struct fw_chain c;
	struct fw_rule r;
	struct fw_view w = { 0 };
	struct nat_fw_verdict v;
	if (fw_parse_chain(nlh, &c) == 1) {
		c.n_rules = c.n_ours = 0;
		if (fw_parse_rule(nlh, &r) == 0) {
			c.n_rules = 1;
			c.n_ours = fw_rule_is_ours(&r);
		}
		w.chains = &c;
		w.n_chains = 1;
	}
	if (fw_parse_rule(nlh, &r) == 0 && fw_rule_is_ours(&r) &&
	    (r.n_verdict != 1 || strcmp(r.target, "TSUNAGI-NAT") != 0))
		abort();
	(void)fw_parse_spdinfo(nlh, &w);
	fw_verdict(&w, &v);
	if (!v.quiet && !v.why[0])
		abort();	/* a "no" always says why */
	free(nlh);
	return 0;
}
