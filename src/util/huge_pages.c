/* huge_pages.c: see huge_pages.h. */
#include "util/huge_pages.h"

#include <stdint.h>
#include <sys/mman.h>

void *huge_pages_map(size_t length) {
    uint8_t *map =
        mmap(NULL, length + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return NULL;
    /* Trim the extra page's worth to a 2 MB boundary at both ends. */
    uint8_t *base = map + (HUGE_PAGE - (uintptr_t)map % HUGE_PAGE) % HUGE_PAGE;
    if (base > map) munmap(map, (size_t)(base - map));
    size_t tail = (size_t)(map + length + HUGE_PAGE - (base + length));
    if (tail) munmap(base + length, tail);
    (void)madvise(base, length, MADV_HUGEPAGE);
    return base;
}
