/* web.c: the page at / (src/http/web/, built into the binary as the OpenAPI
 * document is), for people who do not write code. It is plain files that
 * talk only to the public API, under a Content-Security-Policy that allows
 * no inline script or style and no other origin. */
#include <string.h>

#include "http/http_internal.h"

/* 'self' only: no CDN, no inline code (nothing to inject into), no frames.
 * blob: lets the page show the chosen file and the fetched result (both
 * fetched with the key in a header, never in a URL); data: is the empty
 * favicon. */
static const char web_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
    " media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'";

enum MHD_Result web_serve(struct request *req) {
    const char *text = http_web_index_html, *type = "text/html; charset=utf-8";
    if (strcmp(req->path, "/web/app.js") == 0) {
        text = http_web_app_js;
        type = "text/javascript; charset=utf-8";
    } else if (strcmp(req->path, "/web/app.css") == 0) {
        text = http_web_app_css;
        type = "text/css; charset=utf-8";
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, "Content-Type", type);
    MHD_add_response_header(response, "Cache-Control", "no-cache");
    MHD_add_response_header(response, "Content-Security-Policy", web_csp);
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    return http_respond(req, MHD_HTTP_OK, response);
}
