/* pfkey_decode() and the views over it, on arbitrary bytes. A message that decodes into
 * an SA or a policy must survive a rebuild: what we build, we must accept. */
#include <stdint.h>
#include <stdlib.h>

#include "lib/buf.h"
#include "pfkey/pfkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rebuild_sa(uint8_t type, const struct pfkey_sa *sa)
{
	struct buf b;
	struct pfkey_msg m;
	struct pfkey_sa again;
	char err[128];
	buf_init(&b);
	pfkey_build_sa(&b, type, 1, sa);
	if (!b.oom && (pfkey_decode(b.data, b.len, &m, err, sizeof(err)) < 0 ||
		       pfkey_msg_sa(&m, &again, err, sizeof(err)) < 0))
		abort();
	pfkey_format_sa(sa, &b);
	buf_wipe_free(&b);
}

static void rebuild_policy(const struct pfkey_policy *p)
{
	struct buf b;
	struct pfkey_msg m;
	struct pfkey_policy again;
	char err[128];
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 1, p);
	if (!b.oom && pfkey_decode(b.data, b.len, &m, err, sizeof(err)) < 0)
		abort();
	/* A policy may legitimately fail the view (e.g. tunnel mode without endpoints
	 * rebuilt from an input that had them in another family); decoding must not. */
	(void)pfkey_msg_policy(&m, &again, err, sizeof(err));
	pfkey_format_policy(p, &b);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfkey_msg m;
	struct pfkey_sa sa;
	struct pfkey_policy p;
	struct pfkey_acquire a;
	struct pfkey_getspi g;
	struct pfkey_mapping mp;
	char err[128];

	(void)pfkey_first_len(data, size);
	if (pfkey_decode(data, size, &m, err, sizeof(err)) < 0)
		return 0;
	(void)pfkey_msg_expire_is_hard(&m);
	if (pfkey_msg_sa(&m, &sa, err, sizeof(err)) == 0 && sa.src.family)
		rebuild_sa(SADB_ADD, &sa);
	if (pfkey_msg_policy(&m, &p, err, sizeof(err)) == 0)
		rebuild_policy(&p);
	(void)pfkey_msg_acquire(&m, &a, err, sizeof(err));
	(void)pfkey_msg_getspi(&m, &g, err, sizeof(err));
	(void)pfkey_msg_new_mapping(&m, &mp, err, sizeof(err));
	return 0;
}
