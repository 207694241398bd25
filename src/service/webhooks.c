/* webhooks.c: the SSRF guard, Standard Webhooks signatures and the sender
 * thread (see webhooks.h). */
#include "service/webhooks.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/ids.h"
#include "util/thread_name.h"

/* ---- the SSRF guard ---------------------------------------------------- */

static int ipv4_is_public(uint32_t a) {
    /* RFC 6890 special-purpose blocks a webhook has no business reaching. */
    static const struct {
        uint32_t net, mask;
    } blocked[] = {
        {0x00000000, 0xff000000}, /* 0.0.0.0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 private */
        {0x64400000, 0xffc00000}, /* 100.64/10 shared (CGNAT) */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local (cloud metadata) */
        {0xac100000, 0xfff00000}, /* 172.16/12 private */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 IETF protocol assignments */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 private */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xe0000000, 0xf0000000}, /* 224/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240/4 reserved and broadcast */
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if ((a & blocked[i].mask) == blocked[i].net) return 0;
    return 1;
}

static uint32_t ipv4_at(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* IPv6 forms that carry an IPv4 address, which is where a packet to them
 * ends up (through a translator, a tunnel or the host's own stack): they
 * are judged by that address, so that [64:ff9b::7f00:1] is loopback.
 * Returns -1 when B embeds no IPv4 address. */
static int embedded_ipv4_is_public(const unsigned char *b) {
    static const unsigned char zeros[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    /* ::ffff:a.b.c.d mapped (RFC 4291 2.5.5.2), ::ffff:0:a.b.c.d translated
     * (RFC 2765), 64:ff9b::a.b.c.d NAT64 (RFC 6052), ::a.b.c.d compatible
     * (RFC 4291 2.5.5.1; :: and ::1 are refused before this). */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, translated, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
        memcmp(b, zeros, 12) == 0)
        return ipv4_is_public(ipv4_at(b + 12));
    /* 64:ff9b:1::/48 is NAT64 for local use only (RFC 8215). */
    if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
        return 0;
    /* 2002:AABB:CCDD::/48 is 6to4 for the host a.b.c.d (RFC 3056). */
    if (b[0] == 0x20 && b[1] == 0x02) return ipv4_is_public(ipv4_at(b + 2));
    /* 2001:0::/32 Teredo (RFC 4380): the server's address, then the
     * client's with every bit flipped. Both must be public. */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
        return ipv4_is_public(ipv4_at(b + 4)) && ipv4_is_public(~ipv4_at(b + 12));
    return -1;
}

int webhook_address_is_public(const struct sockaddr *addr) {
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        return ipv4_is_public(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family != AF_INET6) return 0;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;
    const unsigned char *b = in6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 0;
    int embedded = embedded_ipv4_is_public(b);
    if (embedded >= 0) return embedded;
    if ((b[0] & 0xfe) == 0xfc) return 0;                 /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 0; /* fe80::/10 link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 0; /* fec0::/10 old site-local */
    if (b[0] == 0xff) return 0;                          /* multicast */
    return 1;
}

static int refuse(struct vsr_error *error, const char *format, const char *detail) {
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message, format, detail);
    return VSR_E_USAGE;
}

static int system_resolver(const char *name, const struct addrinfo *hints, struct addrinfo **out) {
    return getaddrinfo(name, NULL, hints, out);
}

int webhook_url_check(const char *url, int allow_private, struct vsr_error *error) {
    return webhook_url_check_with(url, allow_private, system_resolver, error);
}

int webhook_url_check_with(const char *url, int allow_private, webhook_resolver resolve,
                           struct vsr_error *error) {
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL;
    struct addrinfo *addresses = NULL;
    int rc = VSR_OK;
    if (!parsed) return refuse(error, "out of memory%s", "");
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        rc = refuse(error, "webhook_url \"%.300s\" is not an absolute URL", url);
        goto done;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        rc = refuse(error, "webhook_url must use http or https, not %.40s", scheme);
        goto done;
    }
    if (allow_private) goto done;
    /* An IPv6 literal comes back in brackets. */
    char name[256];
    size_t len = strlen(host);
    if (len >= sizeof name) {
        rc = refuse(error, "webhook_url host is too long%s", "");
        goto done;
    }
    if (host[0] == '[' && len > 2 && host[len - 1] == ']')
        snprintf(name, sizeof name, "%.*s", (int)(len - 2), host + 1);
    else
        snprintf(name, sizeof name, "%s", host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = resolve(name, &hints, &addresses);
    if (gai != 0) {
        rc = refuse(error, "webhook_url host %.200s does not resolve", name);
        goto done;
    }
    for (struct addrinfo *a = addresses; a; a = a->ai_next)
        if (!webhook_address_is_public(a->ai_addr)) {
            rc = refuse(error,
                        "webhook_url host %.200s resolves to a loopback, private or link-local"
                        " address; webhooks go to public addresses only"
                        " (an operator can allow others with VSR_WEBHOOK_ALLOW_PRIVATE=1)",
                        name);
            goto done;
        }
done:
    if (addresses) freeaddrinfo(addresses);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parsed);
    return rc;
}

/* ---- signatures -------------------------------------------------------- */

int webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
                 char *out, size_t out_size) {
    if (strncmp(secret, "whsec_", 6) == 0) secret += 6;
    size_t secret_len = strlen(secret);
    unsigned char key[96];
    if (secret_len == 0 || secret_len % 4 != 0 || secret_len / 4 * 3 > sizeof key || out_size < 64)
        return VSR_E_USAGE;
    int key_len = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)secret_len);
    if (key_len < 0) return VSR_E_USAGE;
    /* EVP_DecodeBlock counts the bytes that padding stands for. */
    if (secret[secret_len - 1] == '=') key_len--;
    if (secret[secret_len - 2] == '=') key_len--;

    char prefix[200];
    int prefix_len = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, (long long)timestamp);
    if (prefix_len < 0 || (size_t)prefix_len >= sizeof prefix) return VSR_E_USAGE;
    /* HMAC() (one shot) is the OpenSSL 3 call that is not deprecated. */
    size_t body_len = strlen(body);
    unsigned char *message = malloc((size_t)prefix_len + body_len);
    if (!message) return VSR_E_NOMEM;
    memcpy(message, prefix, (size_t)prefix_len);
    memcpy(message + prefix_len, body, body_len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int ok = HMAC(EVP_sha256(), key, key_len, message, (size_t)prefix_len + body_len, mac,
                  &mac_len) != NULL;
    free(message);
    if (!ok) return VSR_E_INTERNAL;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
    return VSR_OK;
}

int64_t webhook_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, double jitter) {
    int shift = attempts > 1 ? attempts - 1 : 0;
    if (shift > 30) shift = 30;
    int64_t delay = base_ms << shift;
    if (delay > max_ms || delay < 0) delay = max_ms;
    if (jitter < 0) jitter = 0;
    if (jitter > 1) jitter = 1;
    return (int64_t)((double)delay * (0.5 + 0.5 * jitter));
}

/* ---- the sender -------------------------------------------------------- */

struct webhook_sender {
    const struct service_config *config;
    struct store *store;
    struct metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    unsigned int seed; /* for the jitter */
};

/* One attempt's state for the curl callbacks. */
struct attempt {
    int allow_private;
    int refused; /* the connection went to an address the guard forbids */
};

static curl_socket_t open_socket(void *opaque, curlsocktype purpose,
                                 struct curl_sockaddr *address) {
    struct attempt *attempt = opaque;
    if (!attempt->allow_private && !webhook_address_is_public(&address->addr)) {
        attempt->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static size_t discard(char *ptr, size_t size, size_t n, void *opaque) {
    return size * n; /* the receiver's body is not needed */
}

static void log_attempt(const struct webhook_delivery *d, const char *event, long status,
                        const char *detail, int64_t next_in_ms) {
    char when[40];
    int64_t now = ids_now_ms();
    time_t seconds = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%03dZ", base, (int)(now % 1000));
    json_t *line = json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:i}", "ts", when, "event", event,
                             "job_id", d->job_id, "delivery_id", (json_int_t)d->id, "webhook_event",
                             d->event, "attempt", d->attempts, "status", (int)status);
    if (line && detail && *detail) json_object_set_new(line, "detail", json_string(detail));
    if (line && next_in_ms >= 0)
        json_object_set_new(line, "next_attempt_in_ms", json_integer(next_in_ms));
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
}

static void deliver(struct webhook_sender *sender, const struct webhook_delivery *d) {
    const struct service_config *config = sender->config;
    char msg_id[STORE_ID_SIZE + 32], signature[128], header[256];
    char error_text[CURL_ERROR_SIZE + 64] = "";
    long status = 0;
    curl_off_t retry_after = -1;
    int64_t timestamp = ids_now_ms() / 1000;
    snprintf(msg_id, sizeof msg_id, "msg_%s_%lld", d->job_id, (long long)d->id);
    struct attempt attempt = {.allow_private = config->webhook_allow_private};
    if (webhook_sign(d->secret, msg_id, timestamp, d->payload, signature, sizeof signature) !=
        VSR_OK) {
        snprintf(error_text, sizeof error_text, "the key's webhook secret is malformed");
    } else {
        CURL *curl = curl_easy_init();
        struct curl_slist *headers = NULL;
        char curl_error[CURL_ERROR_SIZE] = "";
        headers = curl_slist_append(headers, "Content-Type: application/json");
        snprintf(header, sizeof header, "webhook-id: %s", msg_id);
        headers = curl_slist_append(headers, header);
        snprintf(header, sizeof header, "webhook-timestamp: %lld", (long long)timestamp);
        headers = curl_slist_append(headers, header);
        snprintf(header, sizeof header, "webhook-signature: %s", signature);
        headers = curl_slist_append(headers, header);
        headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
        if (!curl || !headers) {
            snprintf(error_text, sizeof error_text, "out of memory");
        } else {
            curl_easy_setopt(curl, CURLOPT_URL, d->url);
            curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->payload);
            curl_easy_setopt(curl, CURLOPT_USERAGENT, "vsr-webhooks/1");
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                             (long)config->webhook_timeout_seconds * 1000);
            curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                             (long)config->webhook_timeout_seconds * 1000);
            curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
            curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &attempt);
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
            CURLcode rc = curl_easy_perform(curl);
            if (rc == CURLE_OK) {
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after);
                if (status < 200 || status > 299)
                    snprintf(error_text, sizeof error_text, "the receiver answered %ld", status);
            } else if (attempt.refused) {
                snprintf(error_text, sizeof error_text,
                         "refused: the URL resolves to a private address");
            } else {
                snprintf(error_text, sizeof error_text, "%s",
                         curl_error[0] ? curl_error : curl_easy_strerror(rc));
            }
        }
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
    }

    int delivered = 0;
    int64_t next = 0, wait = -1;
    const char *event;
    if (status >= 200 && status <= 299) {
        delivered = 1;
        event = "webhook.delivered";
    } else if (status == 410 || d->attempts >= config->webhook_max_attempts) {
        /* 410 Gone: the receiver asked for no more (Standard Webhooks). */
        delivered = -1;
        event = "webhook.given_up";
    } else {
        pthread_mutex_lock(&sender->lock);
        double jitter = (double)rand_r(&sender->seed) / ((double)RAND_MAX + 1.0);
        pthread_mutex_unlock(&sender->lock);
        int64_t max_ms = (int64_t)config->webhook_backoff_max_seconds * 1000;
        wait = webhook_backoff_ms(d->attempts, config->webhook_backoff_ms, max_ms, jitter);
        if (retry_after > 0) {
            /* Retry-After wins, within the backoff cap. libcurl reads 0 when
             * the header is absent, so 0 means "not asked": a receiver that
             * wants an immediate retry gets the backoff's first step. */
            wait = (int64_t)retry_after * 1000;
            if (wait > max_ms) wait = max_ms;
        }
        next = ids_now_ms() + wait;
        event = "webhook.retry";
    }
    log_attempt(d, event, status, error_text, wait);
    if (sender->metrics) metrics_record_webhook(sender->metrics, delivered > 0, delivered < 0);
    struct vsr_error error = {0};
    if (store_webhook_record(sender->store, d->id, delivered, (int)status, error_text, next,
                             &error) != VSR_OK)
        log_attempt(d, "webhook.record_failed", status, error.message, -1);
}

static void *sender_main(void *arg) {
    struct webhook_sender *sender = arg;
    thread_name("vsr-webhooks");
    /* The lease covers the longest attempt, so a crashed sender's delivery
     * is taken again after it, never while it is still being tried. */
    int64_t lease_ms = (int64_t)sender->config->webhook_timeout_seconds * 1000 + 30000;
    pthread_mutex_lock(&sender->lock);
    while (!sender->stopping) {
        pthread_mutex_unlock(&sender->lock);
        struct webhook_delivery d;
        struct vsr_error error = {0};
        int claimed = store_webhook_claim_due(sender->store, lease_ms, &d, &error);
        if (claimed == 1) deliver(sender, &d);
        pthread_mutex_lock(&sender->lock);
        if (claimed == 1 || sender->stopping) continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)sender->config->poll_ms * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&sender->wake, &sender->lock, &until);
    }
    pthread_mutex_unlock(&sender->lock);
    return NULL;
}

int webhook_sender_start(struct webhook_sender **out, const struct service_config *config,
                         struct store *store, struct metrics *metrics, struct vsr_error *error) {
    *out = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread uses curl */
    struct webhook_sender *sender = calloc(1, sizeof *sender);
    if (!sender) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    sender->config = config;
    sender->store = store;
    sender->metrics = metrics;
    sender->seed = (unsigned int)(ids_now_ms() ^ (int64_t)getpid());
    pthread_mutex_init(&sender->lock, NULL);
    pthread_cond_init(&sender->wake, NULL);
    if (pthread_create(&sender->thread, NULL, sender_main, sender) != 0) {
        pthread_mutex_destroy(&sender->lock);
        pthread_cond_destroy(&sender->wake);
        free(sender);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "cannot start the webhook sender thread");
        return VSR_E_NOMEM;
    }
    *out = sender;
    return VSR_OK;
}

void webhook_sender_stop(struct webhook_sender *sender) {
    if (!sender) return;
    pthread_mutex_lock(&sender->lock);
    sender->stopping = 1;
    pthread_cond_broadcast(&sender->wake);
    pthread_mutex_unlock(&sender->lock);
    pthread_join(sender->thread, NULL);
    pthread_mutex_destroy(&sender->lock);
    pthread_cond_destroy(&sender->wake);
    free(sender);
}
