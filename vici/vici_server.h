/* The VICI server: a unix socket that speaks strongSwan's control protocol, so that
 * swanctl (--uri unix:///path) and tsunagictl can drive tsunagid.
 *
 * Commands are registered by name. A handler gets the parsed request and the
 * client's connection; it may stream events to that client (vici_conn_event: the
 * list-sa events of list-sas) before it fills the response and returns
 * VICI_REPLY_DONE. A long-running command (initiate, terminate) returns
 * VICI_REPLY_PENDING instead, streams "control-log" events as it goes, and completes
 * later with vici_conn_respond(). One command runs at a time per client (the protocol
 * has no request ids): input from that client is held until the response is sent.
 *
 * If the client goes away while its command is pending, the connection object stays
 * valid (events to it are dropped, vici_conn_alive() is false) until the daemon calls
 * vici_conn_respond() or the server is freed, so the daemon never holds a dangling
 * pointer.
 *
 * Misbehaving clients (oversize packet, malformed packet or message, a packet type a
 * client must not send, output piling up beyond the per-client bound) are
 * disconnected and counted; other clients are not affected. */
#ifndef TSUNAGI_VICI_SERVER_H
#define TSUNAGI_VICI_SERVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/tree.h"
#include "vici/vici_msg.h"

struct event_base;
struct vici_server;
struct vici_conn;

enum vici_reply {
	VICI_REPLY_DONE,	/* resp is complete: send it now */
	VICI_REPLY_PENDING,	/* the handler will call vici_conn_respond() later */
};

/* req is the request message (root section; never NULL, possibly empty); resp starts
 * empty. Both are owned by the server and only valid during the call. */
typedef enum vici_reply (*vici_cmd_fn)(void *arg, struct vici_conn *c,
				       const struct ctree *req, struct vici_msg *resp);

struct vici_server_limits {
	unsigned max_clients;	/* further connections are refused (default 64) */
	size_t max_out;		/* queued output per client before it is dropped (8 MiB) */
};

struct vici_server_stats {
	unsigned clients;		/* connected now */
	uint64_t accepted;
	uint64_t refused;		/* over max_clients */
	uint64_t requests;		/* commands dispatched */
	uint64_t unknown_cmds;
	uint64_t malformed;		/* clients dropped for bad packets/messages */
	uint64_t oversize;		/* clients dropped for packets over 512 KiB */
	uint64_t too_many_elements;	/* requests refused: over VICI_MAX_ELEMENTS */
	uint64_t overflow;		/* clients dropped for not reading their output */
	uint64_t events_sent;
};

/* Default: tsunagid's socket in its runtime directory (systemd's RuntimeDirectory=
 * tsunagi), as strongSwan's is /var/run/charon.vici. */
#define TSUNAGI_RUN_DIR "/run/tsunagi"
#define VICI_DEFAULT_URI "unix://" TSUNAGI_RUN_DIR "/tsunagi.vici"
/* Operators in this group may use the socket without being root (when it exists). */
#define TSUNAGI_GROUP "tsunagi"

/* "unix:///run/x.vici" -> "/run/x.vici". Returns 0 or -1 (not a unix URI, too long). */
int vici_uri_path(const char *uri, char *path, size_t pathlen);

/* Binds and listens on uri. A stale socket file (nobody accepting) is removed; a live
 * one makes this fail. limits may be NULL for the defaults. */
struct vici_server *vici_server_new(struct event_base *base, const char *uri,
				    const struct vici_server_limits *limits,
				    char *err, size_t errlen);
/* Closes every client, removes the socket file, frees everything (including
 * connections whose command was still pending). */
void vici_server_free(struct vici_server *srv);

/* Registers a command (a later registration of the same name replaces it).
 * Returns 0 or -1. */
int vici_server_register(struct vici_server *srv, const char *cmd, vici_cmd_fn fn, void *arg);
/* Declares an event clients may register for ("ike-updown", "list-sa", ...).
 * Registration for an undeclared event is answered with EVENT_UNKNOWN. */
int vici_server_add_event(struct vici_server *srv, const char *event);
/* Is any client registered for this event? (Saves building unwanted messages.) */
bool vici_server_has_listeners(const struct vici_server *srv, const char *event);
/* Sends the event to every client registered for it. Returns the number reached. */
unsigned vici_server_emit(struct vici_server *srv, const char *event, const struct vici_msg *msg);
void vici_server_get_stats(const struct vici_server *srv, struct vici_server_stats *st);
const char *vici_server_path(const struct vici_server *srv);

/* Sends an event to this client if it registered for it (as strongSwan does: swanctl
 * registers list-sa before list-sas). Returns true if sent. */
bool vici_conn_event(struct vici_conn *c, const char *event, const struct vici_msg *msg);
/* Completes a pending command. msg NULL sends an empty response. After this, the
 * daemon must not use c again (it may have been freed). */
void vici_conn_respond(struct vici_conn *c, const struct vici_msg *msg);
/* Is the client still connected? */
bool vici_conn_alive(const struct vici_conn *c);
/* Is this client registered for the event? */
bool vici_conn_registered(const struct vici_conn *c, const char *event);
/* A small id for log lines ("vici client 3"). */
unsigned vici_conn_id(const struct vici_conn *c);
#endif
