/* Fuzz target: swanctl.conf text -> tree (conf_parse_string, includes refused) ->
 * configuration (config_build). Must never crash, leak or read out of bounds, whatever
 * the text; errors are expected and ignored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size > 64 * 1024)	/* config files are small; keeps merging cheap */
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct ctree *t = conf_parse_string_flags(text, "fuzz.conf", CONF_NO_INCLUDE, err,
						  sizeof(err));
	free(text);
	if (!t)
		return 0;
	struct config *c = config_build(t, err, sizeof(err));
	/* The VICI path builds single connections from the same tree shape. */
	struct ctree *conns = ctree_find(t, "connections");
	for (struct ctree *s = conns ? conns->child : NULL; s; s = s->next)
		conn_cfg_free(config_build_conn(s, err, sizeof(err)));
	config_free(c);
	ctree_free(t);
	return 0;
}
