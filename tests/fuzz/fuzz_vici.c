/* VICI: a whole transport segment as a server or client receives it. The first
 * 4 bytes are the length (checked against the data and the 512 KiB limit as the
 * server does), then the packet is split and its message parsed into a tree,
 * re-encoded and parsed again: the second parse must accept what the builder
 * produced from the first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vici/vici_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[160];
	struct vici_packet pkt;
	if (size < 4)
		return 0;
	uint32_t len = get_u32(data);
	if (len > VICI_MAX_PACKET || len > size - 4)
		return 0;
	if (vici_packet_decode(data + 4, len, &pkt, err, sizeof(err)) < 0)
		return 0;
	struct ctree *t = vici_parse_message(pkt.msg, pkt.msg_len, err, sizeof(err));
	if (!t)
		return 0;
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_tree(&m, t);
	if (vici_msg_ok(&m)) {
		struct ctree *again = vici_parse_message(m.b.data, m.b.len, err, sizeof(err));
		if (!again)
			abort();	/* the builder wrote something the parser refuses */
		ctree_free(again);
	}
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		vici_print_raw(null, "fuzz", t, true);
		vici_print_json(null, t, false);
		fclose(null);
	}
	vici_msg_free(&m);
	ctree_free(t);
	return 0;
}
