/* dv_tls_process_init: a thread that used OpenSSL and ends after main has
 * returned still frees its OpenSSL state. Without it, CI's AddressSanitizer
 * pass once failed test_6_sigterm_under_load: dvsconfd exited under load,
 * and LeakSanitizer found a thread's error queue (904 bytes, CRYPTO_zalloc).
 *
 * The thread here ends in an atexit handler registered before OpenSSL
 * starts, so it runs after any handler that OpenSSL registers. It then
 * checks that OpenSSL was not shut down under the thread; in the sanitized
 * build, LeakSanitizer also checks that the thread's state was freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <pthread.h>

#include "tls.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool started, used_openssl, may_end;
static pthread_t late;

static void *late_main(void *arg) {
  (void)arg;
  ERR_clear_error(); /* makes this thread's error queue */
  pthread_mutex_lock(&mu);
  used_openssl = true;
  pthread_cond_broadcast(&cv);
  while (!may_end) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void end_late_thread(void) {
  if (!started) return;
  pthread_mutex_lock(&mu);
  may_end = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(late, NULL);
  if (OPENSSL_init_crypto(0, NULL) != 1) {
    fprintf(stderr, "test_openssl_exit: OpenSSL was shut down at exit while a thread still ran\n");
    _exit(1);
  }
}

static void thread_ending_after_main(void **state) {
  assert_int_equal(dv_tls_process_init(), 0);
  assert_int_equal(pthread_create(&late, NULL, late_main, NULL), 0);
  started = true;
  pthread_mutex_lock(&mu);
  while (!used_openssl) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

int main(void) {
  if (atexit(end_late_thread) != 0) return 1; /* before OpenSSL's handler, if any */
  const struct CMUnitTest tests[] = {cmocka_unit_test(thread_ending_after_main)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
