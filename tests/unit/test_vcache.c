/* The cache of verified versions: hits, misses, byte bound, LRU order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bigmem.h"
#include "vcache.h"

static void hit_miss_and_lru_eviction(void **state) {
  dv_arena_t *a = dv_arena_new();
  dv_vcache_t *c = dv_vcache_new(8 * 100); /* entries up to 100 bytes */
  uint8_t buf[100];
  const uint8_t *got;
  size_t len;
  int64_t lineage;
  memset(buf, 7, sizeof buf);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &got, &len, &lineage, NULL), 0);
  for (int64_t id = 1; id <= 8; id++) dv_vcache_put(c, id, buf, 100, id * 10);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &got, &len, &lineage, NULL), 1); /* 1 is now most recent */
  assert_int_equal(len, 100);
  assert_int_equal(lineage, 10);
  assert_memory_equal(got, buf, 100);
  dv_vcache_put(c, 9, buf, 100, 90); /* evicts the least recent: 2 */
  assert_int_equal(dv_vcache_get_ref(c, 2, a, &got, &len, &lineage, NULL), 0);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &got, &len, &lineage, NULL), 1);
  assert_int_equal(dv_vcache_get_ref(c, 9, a, &got, &len, &lineage, NULL), 1);
  /* too large for the cache: not kept */
  uint8_t big[200] = {0};
  dv_vcache_put(c, 10, big, sizeof big, 0);
  assert_int_equal(dv_vcache_get_ref(c, 10, a, &got, &len, &lineage, NULL), 0);
  /* no cache at all: always a miss */
  assert_int_equal(dv_vcache_get_ref(NULL, 1, a, &got, &len, &lineage, NULL), 0);
  dv_arena_free(a); /* its references first, then the cache (vcache.h) */
  dv_vcache_free(c);
}

/* A reference outlives the entry's eviction, until its arena is freed
 * (AddressSanitizer would see a use after free). */
static void references_outlive_eviction(void **state) {
  dv_vcache_t *c = dv_vcache_new(8 * 100);
  dv_arena_t *reader = dv_arena_new();
  uint8_t buf[100];
  const uint8_t *ref;
  size_t len;
  int64_t lineage;
  memset(buf, 9, sizeof buf);
  dv_vcache_put(c, 1, buf, 100, 5);
  assert_int_equal(dv_vcache_get_ref(c, 1, reader, &ref, &len, &lineage, NULL), 1);
  for (int64_t id = 2; id <= 20; id++) dv_vcache_put(c, id, buf, 100, 0); /* evicts 1 */
  dv_arena_t *other = dv_arena_new();
  const uint8_t *again;
  assert_int_equal(dv_vcache_get_ref(c, 1, other, &again, &len, &lineage, NULL), 0); /* evicted */
  assert_memory_equal(ref, buf, 100); /* still readable */
  dv_arena_free(reader); /* the last reference: freed now */
  dv_arena_free(other);
  dv_vcache_free(c);
}

/* Derived data is kept only with the very bytes it was derived from, is
 * counted in the cache's bytes, and goes with its entry (ASan / valgrind
 * would see a leak otherwise). */
static void aux_kept_with_its_entry(void **state) {
  dv_vcache_t *c = dv_vcache_new(8 * 100);
  dv_arena_t *a = dv_arena_new();
  uint8_t buf[100];
  const uint8_t *ref;
  const void *aux;
  size_t len;
  int64_t lineage;
  memset(buf, 3, sizeof buf);
  dv_vcache_put(c, 1, buf, 100, 0);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &len, &lineage, &aux), 1);
  assert_null(aux);
  dv_vcache_set_aux(c, 1, buf, strdup("not its bytes"), 14); /* refused: another buffer */
  dv_vcache_set_aux(c, 2, ref, strdup("no such entry"), 14); /* refused */
  dv_vcache_set_aux(c, 1, ref, strdup("split"), 6);
  dv_vcache_set_aux(c, 1, ref, strdup("second"), 7); /* refused: has one */
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &len, &lineage, &aux), 1);
  assert_string_equal(aux, "split");
  /* the aux's bytes count: 7 more entries of 100 no longer fit with it */
  for (int64_t id = 2; id <= 8; id++) dv_vcache_put(c, id, buf, 100, 0);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &len, &lineage, &aux), 0);
  dv_arena_free(a);
  dv_vcache_free(c);
}

/* An entry put without a copy reads the same, and its block goes with it
 * (on eviction, and when the cache goes): ASan / valgrind check the frees. */
static void owned_entries(void **state) {
  (void)state;
  dv_vcache_t *c = dv_vcache_new(8 * 100);
  dv_arena_t *a = dv_arena_new();
  const uint8_t *ref;
  size_t len;
  int64_t lineage;
  for (int64_t id = 1; id <= 10; id++) { /* 1 and 2 are evicted */
    uint8_t *block = malloc(100);
    memset(block, (int)id, 100);
    dv_vcache_put_owned(c, id, block, 100, 100, id);
  }
  assert_int_equal(dv_vcache_get_ref(c, 2, a, &ref, &len, &lineage, NULL), 0);
  assert_int_equal(dv_vcache_get_ref(c, 3, a, &ref, &len, &lineage, NULL), 1);
  assert_int_equal(ref[99], 3);
  dv_vcache_put_owned(c, 3, malloc(100), 100, 100, 3); /* there already: dropped */
  dv_vcache_put_owned(c, 11, malloc(1000), 1000, 1000, 0); /* too large: dropped */
  dv_arena_free(a);
  dv_vcache_free(c);
}

/* Large blocks are whole 2 MiB extents, aligned (what a huge page needs);
 * small ones are malloc's. */
static void big_blocks(void **state) {
  (void)state;
  long live = dv_big_live();
  assert_int_equal(dv_big_size(100), 100);
  assert_int_equal(dv_big_size(DV_BIG_MIN), (size_t)2 << 20);
  assert_int_equal(dv_big_size(((size_t)2 << 20) + 1), (size_t)4 << 20);
  uint8_t *small = dv_big_alloc(100), *big = dv_big_alloc(((size_t)2 << 20) + 1);
  assert_non_null(small);
  assert_non_null(big);
  assert_int_equal((uintptr_t)big % ((size_t)2 << 20), 0);
  assert_int_equal(dv_big_live(), live + 1);
  memset(small, 1, 100);
  memset(big, 2, ((size_t)4 << 20)); /* the whole extent is the block's */
  dv_big_free(small, 100);
  dv_big_free(big, ((size_t)2 << 20) + 1);
  dv_big_free(NULL, DV_BIG_MIN);
  assert_int_equal(dv_big_live(), live);
}

/* An extent given back is kept for the next block of its size, which gets
 * it as it was left (not cleared: the kernel has nothing to zero), and
 * never for a block of another size; up to DV_BIG_POOL_MAX bytes are kept,
 * the rest unmapped. */
static void big_extents_are_reused(void **state) {
  (void)state;
  const size_t extent = (size_t)2 << 20;
  dv_big_trim();
  long live = dv_big_live();
  uint8_t *a = dv_big_alloc(DV_BIG_MIN);
  assert_non_null(a);
  memset(a, 7, extent);
  dv_big_free(a, DV_BIG_MIN);
  assert_int_equal(dv_big_pooled(), extent);
  uint8_t *b = dv_big_alloc(extent - 100); /* the same extent's size */
  assert_ptr_equal(b, a);
  assert_int_equal(b[extent - 1], 7);
  assert_int_equal(dv_big_pooled(), 0);
  dv_big_free(b, extent - 100);
  uint8_t *twice = dv_big_alloc(2 * extent); /* not from the one kept */
  assert_non_null(twice);
  assert_ptr_not_equal(twice, b);
  assert_int_equal((uintptr_t)twice % extent, 0);
  assert_int_equal(dv_big_pooled(), extent);
  enum { N = DV_BIG_POOL_MAX / ((size_t)2 << 20) + 2 };
  uint8_t *many[N];
  for (int i = 0; i < N; i++) {
    many[i] = dv_big_alloc(extent);
    assert_non_null(many[i]);
    assert_int_equal((uintptr_t)many[i] % extent, 0);
  }
  assert_ptr_equal(many[0], b); /* the one kept, first */
  assert_int_equal(dv_big_live(), live + 1 + N);
  for (int i = 0; i < N; i++) dv_big_free(many[i], extent);
  assert_int_equal(dv_big_pooled(), DV_BIG_POOL_MAX);
  dv_big_free(twice, 2 * extent); /* no room left: unmapped */
  assert_int_equal(dv_big_pooled(), DV_BIG_POOL_MAX);
  assert_int_equal(dv_big_live(), live);
  dv_big_trim();
  assert_int_equal(dv_big_pooled(), 0);
}

/* Entries of a large version take their own 2 MiB extents and count as
 * such in the cache's bound, whichever way they came (copied, owned, aux),
 * and every block goes with the cache. */
static void large_entries_count_their_extents(void **state) {
  (void)state;
  long live = dv_big_live();
  size_t len = 600 << 10, extent = (size_t)2 << 20;
  dv_vcache_t *c = dv_vcache_new(8 * extent); /* eight extents */
  dv_arena_t *a = dv_arena_new();
  uint8_t *buf = malloc(len);
  assert_non_null(buf);
  memset(buf, 5, len);
  const uint8_t *ref;
  size_t got;
  int64_t lineage;
  for (int64_t id = 1; id <= 4; id++) dv_vcache_put(c, id, buf, len, id);
  for (int64_t id = 5; id <= 8; id++) {
    uint8_t *block = dv_big_alloc(len);
    assert_non_null(block);
    memcpy(block, buf, len);
    dv_vcache_put_owned(c, id, block, len, len, id);
  }
  assert_int_equal(dv_big_live(), live + 8);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, NULL), 1); /* 2 is oldest */
  assert_int_equal(got, len);
  assert_memory_equal(ref, buf, len);
  dv_vcache_put(c, 9, buf, len, 9); /* a ninth extent: 2 goes */
  assert_int_equal(dv_vcache_get_ref(c, 2, a, &ref, &got, &lineage, NULL), 0);
  assert_int_equal(dv_vcache_get_ref(c, 9, a, &ref, &got, &lineage, NULL), 1);
  /* a large aux on 9 is one extent more: the oldest other entry (3) goes */
  void *aux = dv_big_alloc(len);
  assert_non_null(aux);
  dv_vcache_set_aux(c, 9, ref, aux, len);
  assert_int_equal(dv_vcache_get_ref(c, 3, a, &ref, &got, &lineage, NULL), 0);
  assert_int_equal(dv_vcache_get_ref(c, 4, a, &ref, &got, &lineage, NULL), 1);
  dv_arena_free(a);
  dv_vcache_free(c);
  free(buf);
  assert_int_equal(dv_big_live(), live);
}

/* The room in a version's own block is handed out by the cache, once, for
 * the entry that holds the block and only as much as it has; an aux made
 * there counts once (with the block) and goes with it. */
static void aux_inside_its_block(void **state) {
  (void)state;
  long live = dv_big_live();
  size_t len = 900 << 10, cap = DV_VCACHE_ROOM_AT(len) + (600 << 10), extent = (size_t)2 << 20;
  dv_vcache_t *c = dv_vcache_new(8 * extent);
  dv_arena_t *a = dv_arena_new();
  uint8_t *block = dv_big_alloc(cap);
  assert_non_null(block);
  memset(block, 4, cap);
  dv_vcache_put_owned(c, 1, block, len, cap, 1);
  /* the same id again, with a block of its own: refused, and freed */
  uint8_t *again = dv_big_alloc(cap);
  assert_non_null(again);
  dv_vcache_put_owned(c, 1, again, len, cap, 1);
  assert_int_equal(dv_big_live(), live + 1);
  const uint8_t *ref;
  const void *aux;
  size_t got;
  int64_t lineage;
  char elsewhere[8];
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, &aux), 1);
  assert_ptr_equal(ref, block);
  assert_null(dv_vcache_room(c, 1, block, cap)); /* more than there is */
  assert_null(dv_vcache_room(c, 2, block, 10)); /* no such entry */
  dv_vcache_set_aux_inside(c, 1, block, block + DV_VCACHE_ROOM_AT(len)); /* not handed out */
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, &aux), 1);
  assert_null(aux);
  uint8_t *room = dv_vcache_room(c, 1, block, 600 << 10);
  assert_ptr_equal(room, block + DV_VCACHE_ROOM_AT(len));
  assert_null(dv_vcache_room(c, 1, block, 10)); /* once */
  dv_vcache_set_aux_inside(c, 1, block, elsewhere); /* not the room: refused */
  dv_vcache_set_aux_inside(c, 1, block, room);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, &aux), 1);
  assert_ptr_equal(aux, room);
  assert_int_equal(got, len);
  /* a copied entry has no room */
  uint8_t *buf = calloc(1, len);
  assert_non_null(buf);
  dv_vcache_put(c, 2, buf, len, 2);
  assert_int_equal(dv_vcache_get_ref(c, 2, a, &ref, &got, &lineage, &aux), 1);
  assert_null(dv_vcache_room(c, 2, ref, 1));
  /* one extent for both: six more fit beside 1 and 2, a ninth evicts */
  for (int64_t id = 3; id <= 8; id++) dv_vcache_put(c, id, buf, len, id);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, &aux), 1);
  dv_vcache_put(c, 9, buf, len, 9); /* 2 is the oldest now */
  assert_int_equal(dv_vcache_get_ref(c, 2, a, &ref, &got, &lineage, &aux), 0);
  assert_int_equal(dv_vcache_get_ref(c, 1, a, &ref, &got, &lineage, &aux), 1);
  dv_arena_free(a);
  dv_vcache_free(c);
  free(buf);
  assert_int_equal(dv_big_live(), live);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(hit_miss_and_lru_eviction),
                                     cmocka_unit_test(references_outlive_eviction),
                                     cmocka_unit_test(aux_kept_with_its_entry),
                                     cmocka_unit_test(owned_entries),
                                     cmocka_unit_test(big_blocks),
                                     cmocka_unit_test(big_extents_are_reused),
                                     cmocka_unit_test(large_entries_count_their_extents),
                                     cmocka_unit_test(aux_inside_its_block)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
