/*
 * tests/unit/test_core_path.c - paths under --root: the user-space walk that
 * stands in for openat2 resolves exactly as the kernel does, inside the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/path.h"
#include "core/tf.h"

struct fixture {
	char dir[64];
	char outside[64];
	struct tf_ctx ctx;
};

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[256];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/tf-path-XXXXXX");
	snprintf(fx->outside, sizeof(fx->outside), "/tmp/tf-path-out-XXXXXX");
	if (mkdtemp(fx->dir) == NULL || mkdtemp(fx->outside) == NULL)
		return -1;
	/* root: etc/ssl/certs/real.pem, links absolute, relative, up, loop, dangling */
	snprintf(p, sizeof(p), "mkdir -p %s/etc/ssl/certs %s/usr/share/ca", fx->dir, fx->dir);
	if (system(p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/usr/share/ca/root.crt", fx->dir);
	put(p, "inside\n");
	snprintf(p, sizeof(p), "%s/root.crt", fx->outside);
	put(p, "outside\n");
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/abs.pem", fx->dir);
	if (symlink("/usr/share/ca/root.crt", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/rel.pem", fx->dir);
	if (symlink("../../../usr/share/ca/root.crt", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/escape.pem", fx->dir);
	if (symlink("../../../../../../../../../usr/share/ca/root.crt", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/loop1", fx->dir);
	if (symlink("loop2", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/loop2", fx->dir);
	if (symlink("loop1", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/certs/dangling.pem", fx->dir);
	if (symlink("/nowhere/at/all", p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/ssl/dirlink", fx->dir);
	if (symlink("/usr/share/ca", p) != 0)
		return -1;
	tf_ctx_init(&fx->ctx);
	if (tf_ctx_set_root(&fx->ctx, fx->dir) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", fx->dir, fx->outside);
	if (system(cmd) != 0)
		return -1;
	tf_ctx_release(&fx->ctx);
	free(fx);
	return 0;
}

/* Read what a descriptor holds, as a string; "" on error. */
static void
slurp(int fd, char *buf, size_t size)
{
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* The walk and the kernel agree: same content, or the same errno. */
static void
agree(struct fixture *fx, const char *rel, int flags, const char *want, int want_errno)
{
	char a[64], b[64];
	int fa, fb, ea, eb;

	errno = 0;
	fa = tf_open_walk(&fx->ctx, rel, flags, 0);
	ea = errno;
	errno = 0;
	fb = tf_open(&fx->ctx, rel, flags, 0);
	eb = errno;
	if (want != NULL) {
		assert_true(fa >= 0);
		assert_true(fb >= 0);
		slurp(fa, a, sizeof(a));
		slurp(fb, b, sizeof(b));
		assert_string_equal(a, want);
		assert_string_equal(b, want);
	} else {
		assert_int_equal(fa, -1);
		assert_int_equal(fb, -1);
		assert_int_equal(ea, want_errno);
		assert_int_equal(eb, want_errno);
	}
}

static void
test_links_resolve_inside_the_root(void **state)
{
	struct fixture *fx = *state;

	agree(fx, "etc/ssl/certs/abs.pem", O_RDONLY, "inside\n", 0);
	agree(fx, "etc/ssl/certs/rel.pem", O_RDONLY, "inside\n", 0);
	/* ".." past the root stays at the root, as in a chroot */
	agree(fx, "etc/ssl/certs/escape.pem", O_RDONLY, "inside\n", 0);
	agree(fx, "etc/ssl/dirlink/root.crt", O_RDONLY, "inside\n", 0);
	agree(fx, "../../usr/share/ca/root.crt", O_RDONLY, "inside\n", 0);
}

static void
test_loops_and_dangling_links(void **state)
{
	struct fixture *fx = *state;

	agree(fx, "etc/ssl/certs/loop1", O_RDONLY, NULL, ELOOP);
	agree(fx, "etc/ssl/certs/dangling.pem", O_RDONLY, NULL, ENOENT);
	agree(fx, "etc/ssl/missing/x.pem", O_RDONLY, NULL, ENOENT);
}

static void
test_nofollow_opens_the_link_itself(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	int fd;

	fd = tf_open_walk(&fx->ctx, "etc/ssl/certs/abs.pem", O_PATH | O_NOFOLLOW, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
}

static void
test_create_through_a_link_stays_inside(void **state)
{
	struct fixture *fx = *state;
	char p[256];
	int fd;

	fd = tf_open_walk(&fx->ctx, "etc/ssl/dirlink/new.pem", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/usr/share/ca/new.pem", fx->dir);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/new.pem", fx->outside);
	assert_int_equal(access(p, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_links_resolve_inside_the_root, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loops_and_dangling_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nofollow_opens_the_link_itself, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_create_through_a_link_stays_inside, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("core/path", tests, NULL, NULL);
}
