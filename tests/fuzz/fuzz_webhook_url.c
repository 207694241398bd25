/* fuzz_webhook_url.c: libFuzzer target for the webhook URL check (the SSRF
 * guard). Names are never resolved: the resolver given to the check reads
 * numeric addresses only (AI_NUMERICHOST), so no input sends a packet or a
 * DNS query anywhere. The first byte picks allow_private; the rest is the
 * URL. An accepted URL without allow_private must have had its host read as
 * addresses, all of them public. */
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "service/webhooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int resolved_public; /* the last resolution: 1 all public, 0 not, -1 failed */

static int numeric_only(const char *name, const struct addrinfo *hints, struct addrinfo **out) {
    struct addrinfo numeric = *hints;
    numeric.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo(name, NULL, &numeric, out);
    resolved_public = rc == 0 ? 1 : -1;
    for (struct addrinfo *a = rc == 0 ? *out : NULL; a; a = a->ai_next)
        if (!webhook_address_is_public(a->ai_addr)) resolved_public = 0;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int allow_private = data[0] & 1;
    char *url = malloc(size);
    if (!url) return 0;
    memcpy(url, data + 1, size - 1);
    url[size - 1] = '\0';
    struct vsr_error error = {0};
    resolved_public = -2; /* not asked */
    int rc = webhook_url_check_with(url, allow_private, numeric_only, &error);
    if (rc == VSR_OK && !allow_private && resolved_public != 1) __builtin_trap();
    if (rc != VSR_OK && !error.message[0]) __builtin_trap(); /* a refusal says why */
    free(url);
    return 0;
}
