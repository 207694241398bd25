/* webhooks.h: webhook deliveries from the store's outbox. A job that ends
 * (succeeded, failed, canceled) with a webhook_url gets an outbox row in the
 * same transaction as its final state; the sender thread here POSTs each row,
 * signed per the Standard Webhooks spec (https://www.standardwebhooks.com):
 *
 *   webhook-id:        msg_<job id>_<outbox id>, the same on every retry
 *   webhook-timestamp: seconds since the epoch at this attempt
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
 *
 * keyed with the base64-decoded part of the owning API key's "whsec_" secret.
 * A non-2xx answer or a timeout is retried with exponential backoff and
 * jitter (or after the receiver's Retry-After), 410 Gone stops at once, and
 * after config->webhook_max_attempts the delivery is given up. All of that
 * lives in the database, so deliveries survive restarts, and several senders
 * (processes) can share one outbox.
 *
 * The SSRF guard: URLs whose host resolves to a loopback, private, link-local,
 * shared (CGNAT), multicast or unspecified address are refused (an IPv6
 * address that embeds an IPv4 one, NAT64, 6to4, Teredo, IPv4-mapped or
 * -compatible, is judged by the IPv4 address), both when a
 * job is created and again at connect time (so a DNS answer that changed
 * after the check is caught), unless config->webhook_allow_private.
 *
 * Thread-safety: webhook_url_check and webhook_sign may be called from any
 * thread; start and stop the sender from one thread. */
#ifndef VSR_SERVICE_WEBHOOKS_H
#define VSR_SERVICE_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "jobs/store.h"
#include "service/config.h"
#include "service/metrics.h"

/* Checks that URL is an absolute http(s) URL whose host resolves only to
 * public addresses (any address when ALLOW_PRIVATE). VSR_OK, or
 * VSR_E_USAGE with the reason in ERROR. Resolves names: may block on DNS. */
int webhook_url_check(const char *url, int allow_private, struct vsr_error *error);

struct addrinfo;

/* Resolves NAME as getaddrinfo(3) does (0 or an EAI_ code), into a list
 * that freeaddrinfo(3) frees. */
typedef int (*webhook_resolver)(const char *name, const struct addrinfo *hints,
                                struct addrinfo **out);

/* webhook_url_check with RESOLVE in place of getaddrinfo: the fuzz target
 * passes one that reads numeric addresses only, so that nothing it tries
 * leaves the machine. */
int webhook_url_check_with(const char *url, int allow_private, webhook_resolver resolve,
                           struct vsr_error *error);

/* 1 when ADDR (IPv4 or IPv6) is one a webhook may connect to without
 * allow_private: not loopback, private, link-local, shared or unspecified. */
int webhook_address_is_public(const struct sockaddr *addr);

/* Writes "v1,<base64 signature>" of MSG_ID.TIMESTAMP.BODY into OUT (at least
 * 64 bytes). SECRET is "whsec_<base64>" (the prefix is optional). VSR_OK, or
 * VSR_E_USAGE when SECRET is not valid base64. */
int webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
                 char *out, size_t out_size);

/* The wait after ATTEMPTS failed attempts: BASE_MS * 2^(ATTEMPTS-1), capped
 * at MAX_MS, then scaled by a factor in [0.5, 1) drawn from JITTER (0..1), so
 * that receivers coming back from an outage are not hit all at once. */
int64_t webhook_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, double jitter);

struct webhook_sender;

/* Starts the sender thread. The config, store and metrics (which may be
 * NULL) are borrowed and must outlive the sender. */
int webhook_sender_start(struct webhook_sender **out, const struct service_config *config,
                         struct store *store, struct metrics *metrics, struct vsr_error *error);

/* Stops the sender (an attempt in flight ends within its timeout) and frees
 * it. NULL is a no-op. */
void webhook_sender_stop(struct webhook_sender *sender);

#endif
