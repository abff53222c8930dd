/* A small blocking VICI client (tsunagictl, tests): connect to a unix:// URI, send a
 * command and collect the events streamed before its response, register for events
 * and wait for them. One command at a time, as the protocol requires. */
#ifndef TSUNAGI_VICI_CLIENT_H
#define TSUNAGI_VICI_CLIENT_H
#include <stdbool.h>
#include <stddef.h>

#include "conf/tree.h"
#include "vici/vici_msg.h"

struct vici_client;

/* Called for every EVENT packet received (during a request or vici_client_wait). */
typedef void (*vici_event_fn)(void *arg, const char *event, const struct ctree *msg);

/* NULL with err set (and errno kept from connect(), e.g. EACCES) on failure. */
struct vici_client *vici_client_connect(const char *uri, char *err, size_t errlen);
void vici_client_close(struct vici_client *cl);
/* Timeout for each wait on the socket; -1 waits forever (the default). */
void vici_client_set_timeout(struct vici_client *cl, int ms);
void vici_client_on_event(struct vici_client *cl, vici_event_fn fn, void *arg);

/* Returns 0 when confirmed, -1 with err set (unknown event, connection lost). */
int vici_client_register(struct vici_client *cl, const char *event, char *err, size_t errlen);
int vici_client_unregister(struct vici_client *cl, const char *event, char *err, size_t errlen);

/* Sends a command (req may be NULL for an empty message) and returns the response
 * tree (free with ctree_free), delivering events to the callback meanwhile. NULL with
 * err set on an unknown command, a lost connection, a timeout or a malformed reply. */
struct ctree *vici_client_request(struct vici_client *cl, const char *cmd,
				  const struct vici_msg *req, char *err, size_t errlen);

/* Waits for one packet and delivers it if it is an event. Returns 1 for an event,
 * 0 on timeout, -1 on error or disconnect. */
int vici_client_wait(struct vici_client *cl, int timeout_ms, char *err, size_t errlen);

/* Writes raw bytes to the socket (tests send garbage with it). Returns 0 or -1. */
int vici_client_send_raw(struct vici_client *cl, const void *p, size_t n);
int vici_client_fd(const struct vici_client *cl);
#endif
