/* huge_pages.h: anonymous memory in 2 MB transparent huge pages.
 *
 * Pictures and detector planes come and go by the hundred; over 4 KB pages
 * each costs a page fault per 4 KB (about 12 us on these VMs) and TLB misses
 * on every pass. A mapping aligned to 2 MB and advised as huge pages takes
 * one fault per 2 MB. */
#ifndef VSR_UTIL_HUGE_PAGES_H
#define VSR_UTIL_HUGE_PAGES_H

#include <stddef.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* A zeroed mapping of LENGTH bytes (a multiple of HUGE_PAGE), aligned to
 * HUGE_PAGE and advised as huge pages (only advice: without transparent huge
 * pages it is ordinary memory). NULL when none can be mapped. Give it back
 * with munmap(p, LENGTH). */
void *huge_pages_map(size_t length);

#endif
