/* test_webhook.c: the pieces of webhook delivery that need no network:
 * Standard Webhooks signatures (the spec's own test vector), the SSRF guard
 * on addresses and URLs, and the retry backoff. Delivery to a real receiver
 * is in test_http.c (http_webhook_delivery). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "service/webhooks.h"
#include "test.h"

TEST(webhook_signature) {
    /* The example of the Standard Webhooks test suites. */
    char signature[128];
    CHECK_INT(VSR_OK,
              webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                           1614265330, "{\"test\": 2432232314}", signature, sizeof signature));
    CHECK_STR("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    /* The prefix is optional; the key is the decoded bytes. */
    char again[128];
    CHECK_INT(VSR_OK,
              webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                           1614265330, "{\"test\": 2432232314}", again, sizeof again));
    CHECK_STR(again, signature);
    /* Any change to id, time or body changes it. */
    CHECK_INT(VSR_OK,
              webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                           1614265331, "{\"test\": 2432232314}", again, sizeof again));
    CHECK(strcmp(signature, again) != 0);
    CHECK_INT(VSR_E_USAGE, webhook_sign("whsec_abc", "m", 1, "{}", again, sizeof again));
}

static int public4(const char *text) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, text, &a.sin_addr);
    return webhook_address_is_public((struct sockaddr *)&a);
}

static int public6(const char *text) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, text, &a.sin6_addr);
    return webhook_address_is_public((struct sockaddr *)&a);
}

TEST(webhook_ssrf_guard) {
    const char *blocked4[] = {"127.0.0.1",   "10.1.2.3",        "172.16.0.1", "172.31.255.255",
                              "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                              "224.0.0.1",   "255.255.255.255"};
    for (size_t i = 0; i < sizeof blocked4 / sizeof blocked4[0]; i++)
        if (public4(blocked4[i])) {
            fprintf(stderr, "  %s passed the guard\n", blocked4[i]);
            test_failures++;
        }
    CHECK(public4("8.8.8.8"));
    CHECK(public4("172.32.0.1"));
    CHECK(public4("100.128.0.1"));
    CHECK(!public6("::1"));
    CHECK(!public6("::"));
    CHECK(!public6("fe80::1"));
    CHECK(!public6("fd00::1"));
    CHECK(!public6("::ffff:127.0.0.1"));
    CHECK(!public6("::ffff:10.0.0.1"));
    CHECK(public6("2001:4860:4860::8888"));
    CHECK(public6("::ffff:8.8.8.8"));

    /* Issue 23: IPv6 forms that embed an IPv4 address mean that address.
     * Only the guard's decision is tested: nothing connects anywhere. */
    const char *embedded_private[] = {
        "64:ff9b::7f00:1",                      /* NAT64 of 127.0.0.1 */
        "64:ff9b::a9fe:a9fe",                   /* NAT64 of 169.254.169.254 */
        "64:ff9b::10.0.0.1",                    /* NAT64, dotted */
        "64:ff9b:1::7f00:1",                    /* local-use NAT64 (RFC 8215) */
        "2002:7f00:1::",                        /* 6to4 of 127.0.0.1 */
        "2002:c0a8:101::1",                     /* 6to4 of 192.168.1.1 */
        "2002:a9fe:a9fe::",                     /* 6to4 of 169.254.169.254 */
        "::127.0.0.1",                          /* IPv4-compatible */
        "::10.1.2.3",                           /* IPv4-compatible */
        "::ffff:0:127.0.0.1",                   /* IPv4-translated (SIIT) */
        "2001:0:4136:e378:8000:63bf:80ff:fffe", /* Teredo, client 127.0.0.1 */
    };
    for (size_t i = 0; i < sizeof embedded_private / sizeof embedded_private[0]; i++)
        if (public6(embedded_private[i])) {
            fprintf(stderr, "  %s passed the guard\n", embedded_private[i]);
            test_failures++;
        }
    CHECK(public6("64:ff9b::808:808")); /* NAT64 of 8.8.8.8 */
    CHECK(public6("2002:808:808::1"));  /* 6to4 of 8.8.8.8 */
    CHECK(public6("::8.8.8.8"));
    CHECK(public6("2001:0:4136:e378:8000:63bf:f7f7:f7f7")); /* Teredo, client 8.8.8.8 */

    struct vsr_error error = {0};
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://127.0.0.1:9/hook", 0, &error));
    CHECK(strstr(error.message, "VSR_WEBHOOK_ALLOW_PRIVATE") != NULL);
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://localhost/hook", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://[::1]:8080/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://169.254.169.254/latest/meta-data", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://0x7f000001/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://[64:ff9b::7f00:1]/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://[2002:7f00:1::]/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("http://[::ffff:127.0.0.1]:8080/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("ftp://8.8.8.8/", 0, &error));
    CHECK_INT(VSR_E_USAGE, webhook_url_check("not a url", 1, &error));
    CHECK_INT(VSR_OK, webhook_url_check("https://8.8.8.8/hook", 0, &error));
    CHECK_INT(VSR_OK, webhook_url_check("http://127.0.0.1:9/hook", 1, &error));
}

/* A resolver for names of the test: each maps to fixed numeric addresses,
 * so the guard's handling of names runs without DNS. */
static int test_resolver(const char *name, const struct addrinfo *hints, struct addrinfo **out) {
    const char *first = NULL, *second = NULL;
    if (strcmp(name, "hooks.example") == 0) first = "8.8.8.8";
    if (strcmp(name, "rebind.example") == 0) first = "10.0.0.1";
    if (strcmp(name, "mixed.example") == 0) first = "8.8.4.4", second = "fd00::1";
    if (!first) return EAI_NONAME;
    struct addrinfo numeric = *hints;
    numeric.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo(first, NULL, &numeric, out);
    if (rc != 0 || !second) return rc;
    struct addrinfo *more = NULL, *last = *out;
    rc = getaddrinfo(second, NULL, &numeric, &more);
    if (rc != 0) return rc; /* *out is freed by the caller */
    while (last->ai_next)
        last = last->ai_next;
    last->ai_next = more; /* glibc's freeaddrinfo frees node by node */
    return 0;
}

TEST(webhook_ssrf_guard_names) {
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, webhook_url_check_with("https://hooks.example/h", 0, test_resolver, &error));
    CHECK_INT(VSR_E_USAGE,
              webhook_url_check_with("https://rebind.example/h", 0, test_resolver, &error));
    CHECK(strstr(error.message, "rebind.example resolves to a loopback") != NULL);
    /* One private address among public ones is enough to refuse. */
    CHECK_INT(VSR_E_USAGE,
              webhook_url_check_with("http://mixed.example:8080/", 0, test_resolver, &error));
    CHECK_INT(VSR_E_USAGE,
              webhook_url_check_with("http://nowhere.example/", 0, test_resolver, &error));
    CHECK(strstr(error.message, "nowhere.example does not resolve") != NULL);
    /* allow_private asks no resolver at all. */
    CHECK_INT(VSR_OK, webhook_url_check_with("http://nowhere.example/", 1, test_resolver, &error));
}

TEST(webhook_backoff) {
    CHECK_INT(500, webhook_backoff_ms(1, 1000, 60000, 0));
    CHECK_INT(1000, webhook_backoff_ms(1, 1000, 60000, 1));
    CHECK_INT(4000, webhook_backoff_ms(3, 1000, 60000, 1));
    CHECK_INT(60000, webhook_backoff_ms(30, 1000, 60000, 1));
    CHECK_INT(60000, webhook_backoff_ms(200, 1000, 60000, 1));
    int64_t mid = webhook_backoff_ms(4, 1000, 60000, 0.5);
    CHECK(mid >= 4000 && mid <= 8000);
}
