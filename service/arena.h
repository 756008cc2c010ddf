/* dv_arena: a region allocator. One arena per RPC (or per test): every
 * message, string and list built while serving the call lives in it and is
 * released at once by dv_arena_free(). protobuf-c unpacks into it through
 * dv_arena_allocator().
 *
 * Allocation failure: dv_arena_alloc() returns NULL; callers check it and
 * answer RESOURCE_EXHAUSTED (see err.h, DV_NOMEM). Not thread-safe: an arena
 * belongs to one thread at a time. */
#ifndef DV_ARENA_H
#define DV_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct dv_arena dv_arena_t;

dv_arena_t *dv_arena_new(void);
void dv_arena_free(dv_arena_t *a); /* NULL-safe */

void *dv_arena_alloc(dv_arena_t *a, size_t size);  /* zeroed, 16-aligned */
/* Not zeroed: for buffers the caller fills at once (copies, encodings). */
void *dv_arena_alloc_raw(dv_arena_t *a, size_t size);
void *dv_arena_memdup(dv_arena_t *a, const void *p, size_t size);
char *dv_arena_strdup(dv_arena_t *a, const char *s); /* NULL -> "" */
char *dv_arena_strndup(dv_arena_t *a, const char *s, size_t n);
char *dv_arena_printf(dv_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *dv_arena_vprintf(dv_arena_t *a, const char *fmt, va_list ap);

/* Allocate a zero-initialised protobuf-c message of the given descriptor. */
void *dv_arena_msg(dv_arena_t *a, const ProtobufCMessageDescriptor *d);

/* Grow an array of pointers held in the arena: *arr has *n elements and
 * *cap capacity. Returns 0, or -1 when out of memory (nothing changed). */
int dv_arena_push(dv_arena_t *a, void ***arr, size_t *n, size_t *cap, void *item);

/* A ProtobufCAllocator that allocates from the arena; free is a no-op. The
 * returned struct is stored in the arena. */
ProtobufCAllocator *dv_arena_allocator(dv_arena_t *a);

/* Run fn(arg) when the arena is freed (last registered, first run): to hold
 * a reference for exactly as long as what the arena holds. 0, or -1 when
 * out of memory (then fn is not registered). */
int dv_arena_defer(dv_arena_t *a, void (*fn)(void *), void *arg);


#endif
