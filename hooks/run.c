/*
 * hooks/run.c - run the hooks of a phase: fork + execve with a clean
 * environment, stdin fed and output captured through pipes, a time limit
 * enforced on the hook's whole process group.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

struct capture {
	char *buf; /* HOOKS_OUTPUT_MAX + 1 bytes, NUL-terminated */
	size_t len;
	bool is_truncated;
};

struct hook_run {
	char *name;
	bool ran;
	int status; /* from waitpid */
	int exec_errno;
	bool timed_out;
	long duration_ms;
	struct capture out, err;
	char *describe;
};

struct hooks_result {
	char *phase;
	struct hook_run *v;
	size_t n;
	int timeout;
};

/* ---- the child ---- */

/* Close every descriptor from 'lo' up, but 'keep'. */
static void
close_from(int lo, int keep)
{
	struct rlimit rl;
	long fd, max = 65536;

#ifdef SYS_close_range
	if (keep < lo) {
		if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
			return;
	} else if ((keep == lo ||
	               syscall(SYS_close_range, (unsigned)lo, (unsigned)keep - 1, 0) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0) {
		return;
	}
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (long)rl.rlim_cur;
	for (fd = lo; fd < max; fd++)
		if (fd != keep)
			close((int)fd);
}

/*
 * In the child: a new process group, default signal handling, the pipes on
 * 0-2 and nothing else, then execve. Only async-signal-safe calls: the
 * parent built every string. On failure, errno goes back through 'report'.
 */
static void __attribute__((noreturn))
child_exec(const char *path, char *const argv[], char *const envp[], const int fds[3], int report)
{
	struct sigaction sa;
	sigset_t none;
	int moved[3], i, e;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		sigaction(i, &sa, NULL); /* fails harmlessly for KILL, STOP and gaps */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* out of the way of 0-2 first, so that no dup2 overwrites another */
	for (i = 0; i < 3; i++)
		if ((moved[i] = fcntl(fds[i], F_DUPFD, 3)) == -1)
			goto fail;
	for (i = 0; i < 3; i++)
		if (dup2(moved[i], i) == -1)
			goto fail;
	close_from(3, report);
	if (chdir("/") == -1)
		goto fail;
	execve(path, argv, envp);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		e = 0;
	_exit(127);
}

/* ---- the parent ---- */

static void
capture_init(struct capture *c)
{
	c->buf = tf_malloc(HOOKS_OUTPUT_MAX + 1);
	c->buf[0] = '\0';
	c->len = 0;
	c->is_truncated = false;
}

/*
 * Read what 'fd' has, at most 16 reads so that a hook writing without end
 * cannot keep us from its time limit. Returns false at EOF or error (the fd
 * is done).
 */
static bool
capture_read(struct capture *c, int fd)
{
	char scratch[4096];
	int reads;

	for (reads = 0; reads < 16; reads++) {
		size_t room = HOOKS_OUTPUT_MAX - c->len;
		char *dst = room > 0 ? c->buf + c->len : scratch;
		size_t want = room > 0 ? room : sizeof(scratch);
		ssize_t n = read(fd, dst, want);

		if (n > 0) {
			if (room > 0) {
				c->len += (size_t)n;
				c->buf[c->len] = '\0';
			} else {
				c->is_truncated = true;
			}
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return true;
		return false;
	}
	return true;
}

static int
pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		return (int)fd;
	}
#else
	(void)pid;
#endif
	return -1;
}

/* What the hook is fed on stdin: "+file" and "-file" lines. */
static char *
stdin_text(const struct hooks_env *env, size_t *len)
{
	size_t i, n = 1, off = 0;
	char *s;

	for (i = 0; i < env->nadded_files; i++)
		n += strlen(env->added_files[i]) + 2;
	for (i = 0; i < env->nremoved_files; i++)
		n += strlen(env->removed_files[i]) + 2;
	s = tf_malloc(n);
	for (i = 0; i < env->nadded_files; i++)
		off += (size_t)snprintf(s + off, n - off, "+%s\n", env->added_files[i]);
	for (i = 0; i < env->nremoved_files; i++)
		off += (size_t)snprintf(s + off, n - off, "-%s\n", env->removed_files[i]);
	*len = off;
	return s;
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Whether the leader has exited, without reaping it: as long as it is a
 * zombie its pid, the group id, cannot be reused.
 */
static bool
has_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/*
 * Feed, capture and wait for the hook 'pid' until it exits, or until the
 * time limit, then stop its group: SIGTERM, SIGKILL after the grace period.
 * Sets h->status, h->timed_out. Closes the three fds.
 */
static void
supervise(struct hook_run *h, pid_t pid, int *in, int *out, int *err, const char *input,
    size_t inlen, long timeout_ms)
{
	long start = tf_monotonic_ms(), deadline = start + timeout_ms, kill_at = 0;
	size_t sent = 0;
	bool exited = false, is_reaped = false;
	int pidfd = pidfd_open_(pid);

	if (inlen == 0)
		close_fd(in);
	while (!exited) {
		struct pollfd p[4];
		nfds_t np = 0;
		long wait_ms, t;
		int ifd = -1, ofd = -1, efd = -1, pfd = -1;

		if (*in != -1) {
			p[np] = (struct pollfd){ .fd = *in, .events = POLLOUT };
			ifd = (int)np++;
		}
		if (*out != -1) {
			p[np] = (struct pollfd){ .fd = *out, .events = POLLIN };
			ofd = (int)np++;
		}
		if (*err != -1) {
			p[np] = (struct pollfd){ .fd = *err, .events = POLLIN };
			efd = (int)np++;
		}
		if (pidfd != -1) {
			p[np] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
			pfd = (int)np++;
		}
		t = tf_monotonic_ms();
		wait_ms = (kill_at != 0 ? kill_at : deadline) - t;
		if (wait_ms < 0)
			wait_ms = 0;
		if (wait_ms > 60000)
			wait_ms = 60000; /* poll() takes an int */
		/* without a pidfd, look at the child every 20 ms */
		if (pidfd == -1 && wait_ms > 20)
			wait_ms = 20;
		if (poll(p, np, (int)wait_ms) == -1) {
			nfds_t k;

			for (k = 0; k < np; k++)
				p[k].revents = 0;
		}
		if (ifd != -1 && p[ifd].revents != 0) {
			ssize_t n = write(*in, input + sent, inlen - sent);

			if (n > 0)
				sent += (size_t)n;
			/* EPIPE: the hook does not read its stdin, which is its right */
			if ((n == -1 && errno != EINTR && errno != EAGAIN) || sent == inlen)
				close_fd(in);
		}
		if (ofd != -1 && p[ofd].revents != 0 && !capture_read(&h->out, *out))
			close_fd(out);
		if (efd != -1 && p[efd].revents != 0 && !capture_read(&h->err, *err))
			close_fd(err);
		(void)pfd;
		if (!is_reaped && has_exited(pid)) {
			if (kill_at == 0) {
				exited = true;
				break;
			}
			/*
			 * Timed out and the leader is gone: reap it, for a zombie
			 * still counts in its group. Members left keep the group
			 * id from being reused until they are gone too.
			 */
			while (waitpid(pid, &h->status, 0) == -1 && errno == EINTR)
				;
			is_reaped = true;
			close_fd(&pidfd);
		}
		if (is_reaped && kill(-pid, 0) == -1 && errno == ESRCH)
			break;
		t = tf_monotonic_ms();
		if (kill_at == 0 && t >= deadline) {
			h->timed_out = true;
			kill(-pid, SIGTERM);
			kill_at = t + HOOKS_KILL_GRACE_MS;
			close_fd(in);
		} else if (kill_at != 0 && t >= kill_at) {
			break;
		}
	}
	if (h->timed_out && !(is_reaped && kill(-pid, 0) == -1 && errno == ESRCH))
		kill(-pid, SIGKILL);
	/* take what is already there; a daemon the hook started may keep the pipes */
	if (*out != -1)
		capture_read(&h->out, *out);
	if (*err != -1)
		capture_read(&h->err, *err);
	while (!is_reaped && waitpid(pid, &h->status, 0) == -1 && errno == EINTR)
		;
	h->duration_ms = tf_monotonic_ms() - start;
	close_fd(in);
	close_fd(out);
	close_fd(err);
	close_fd(&pidfd);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Run one hook and fill 'h'. Returns 0, or TF_EIO (no pipe, no fork). */
static int
run_one(struct tf_ctx *ctx, struct hook_run *h, const char *path, char *const argv[],
    char *const envp[], const char *input, size_t inlen, long timeout_ms)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int fds[3], e = 0, rc = TF_ERROR;
	ssize_t n;
	pid_t pid;

	capture_init(&h->out);
	capture_init(&h->err);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot create a pipe for the hook '%s'", path);
		goto out;
	}
	fds[0] = in[0];
	fds[1] = out[1];
	fds[2] = err[1];
	if ((pid = fork()) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot start the hook '%s'", path);
		goto out;
	}
	if (pid == 0)
		child_exec(path, argv, envp, fds, rep[1]);
	/* also here, so that a signal to the group never misses by a race */
	setpgid(pid, pid);
	h->ran = true;
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	/* the report pipe closes on a successful execve */
	while ((n = read(rep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(e))
		h->exec_errno = e != 0 ? e : EIO;
	set_nonblock(in[1]);
	set_nonblock(out[0]);
	set_nonblock(err[0]);
	supervise(h, pid, &in[1], &out[0], &err[0], input, inlen, timeout_ms);
	rc = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	return rc;
}

static bool
run_failed(const struct hook_run *h)
{
	return h->ran &&
	    (h->exec_errno != 0 || h->timed_out || !WIFEXITED(h->status) ||
	        WEXITSTATUS(h->status) != 0);
}

static char *
describe(const struct hook_run *h, int timeout)
{
	if (!h->ran)
		return tf_strdup("not run");
	if (h->exec_errno != 0)
		return tf_asprintf("cannot execute: %s", strerror(h->exec_errno));
	if (h->timed_out)
		return tf_asprintf("timed out after %d s", timeout);
	if (WIFSIGNALED(h->status))
		return tf_asprintf("killed by signal %d", WTERMSIG(h->status));
	return tf_asprintf("exit status %d", WEXITSTATUS(h->status));
}

static bool
is_hex(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		        (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* Refuse what would be misread by the hook: lists split on spaces and lines. */
static int
check_env(struct tf_ctx *ctx, const struct hooks_env *env)
{
	size_t i;

	for (i = 0; i < env->nadded; i++)
		if (!is_hex(env->added[i]))
			return tf_error(ctx, TF_EINVALID, "fingerprint '%s' is not hex",
			    env->added[i] ? env->added[i] : "");
	for (i = 0; i < env->nremoved; i++)
		if (!is_hex(env->removed[i]))
			return tf_error(ctx, TF_EINVALID, "fingerprint '%s' is not hex",
			    env->removed[i] ? env->removed[i] : "");
	for (i = 0; i < env->nadded_files; i++)
		if (env->added_files[i] == NULL || strchr(env->added_files[i], '\n') != NULL)
			return tf_error(ctx, TF_EINVALID,
			    "file name for the hooks' stdin is empty or holds a newline");
	for (i = 0; i < env->nremoved_files; i++)
		if (env->removed_files[i] == NULL || strchr(env->removed_files[i], '\n') != NULL)
			return tf_error(ctx, TF_EINVALID,
			    "file name for the hooks' stdin is empty or holds a newline");
	for (i = 0; i < env->nstores; i++)
		if (env->stores[i] == NULL)
			return tf_error(ctx, TF_EINVALID, "store path missing for the hooks");
	for (i = 0; i < env->nargs; i++)
		if (env->args[i] == NULL)
			return tf_error(ctx, TF_EINVALID, "hook argument missing");
	return 0;
}

int
hooks_run_phase(struct hooks_result **out, struct tf_ctx *ctx, const char *phase,
    const struct hooks_env *env, int timeout_seconds, bool stop_on_failure)
{
	static const struct hooks_env none;
	struct hooks_result *r = NULL;
	struct hooks_list *list = NULL;
	char *cdir = NULL, *cfile = NULL, *input = NULL, **envp = NULL, **argv = NULL;
	sigset_t pipe_set, old_mask, pending;
	bool is_masked = false, was_pending = false, has_failed = false;
	size_t i, inlen = 0;
	int rc = TF_ERROR;

	*out = NULL;
	if (env == NULL)
		env = &none;
	if (timeout_seconds <= 0)
		timeout_seconds = HOOKS_DEFAULT_TIMEOUT;
	if ((rc = hooks_list(&list, ctx, phase)) != 0)
		goto out;
	if ((rc = check_env(ctx, env)) != 0)
		goto out;
	r = tf_calloc(1, sizeof(*r));
	r->phase = tf_strdup(phase);
	r->timeout = timeout_seconds;
	r->n = list->n;
	r->v = tf_calloc(list->n > 0 ? list->n : 1, sizeof(*r->v));
	for (i = 0; i < list->n; i++)
		r->v[i].name = tf_strdup(list->names[i]);
	if (list->n == 0)
		goto done;
	if ((rc = hooks_context_write(ctx, phase, env, &cdir, &cfile)) != 0)
		goto out;
	envp = hooks_envp_new(ctx, phase, env, cfile);
	input = stdin_text(env, &inlen);
	argv = tf_calloc(env->nargs + 2, sizeof(*argv));
	for (i = 0; i < env->nargs; i++)
		argv[i + 1] = tf_strdup(env->args[i]);
	/* a hook that exits without reading its stdin must not kill us with SIGPIPE */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (sigpending(&pending) == 0)
		was_pending = sigismember(&pending, SIGPIPE) == 1;
	if (sigprocmask(SIG_BLOCK, &pipe_set, &old_mask) == 0)
		is_masked = true;
	for (i = 0; i < r->n; i++) {
		struct hook_run *h = &r->v[i];
		char *path;

		if (has_failed && stop_on_failure)
			break;
		path = tf_path_join(list->dir, h->name);
		argv[0] = path;
		rc = run_one(ctx, h, path, argv, envp, input, inlen, (long)timeout_seconds * 1000);
		argv[0] = NULL;
		free(path);
		if (rc != 0)
			goto out;
		has_failed = has_failed || run_failed(h);
	}
done:
	for (i = 0; i < r->n; i++)
		r->v[i].describe = describe(&r->v[i], r->timeout);
	*out = r;
	r = NULL;
	rc = 0;
out:
	if (is_masked) {
		struct timespec zero = { 0, 0 };

		if (!was_pending)
			while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
				;
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
	hooks_context_remove(cdir, cfile);
	hooks_strv_free(envp);
	if (argv != NULL) {
		/* argv[0] is the path of each hook in turn, not owned here */
		for (i = 1; i <= env->nargs; i++)
			free(argv[i]);
		free(argv);
	}
	free(input);
	hooks_list_free(list);
	hooks_result_free(r);
	return rc;
}

/* ---- the result ---- */

static const struct hook_run *
at(const struct hooks_result *r, size_t i)
{
	return r != NULL && i < r->n ? &r->v[i] : NULL;
}

const char *
hooks_result_phase(const struct hooks_result *r)
{
	return r != NULL ? r->phase : NULL;
}

size_t
hooks_result_count(const struct hooks_result *r)
{
	return r != NULL ? r->n : 0;
}

size_t
hooks_result_failed(const struct hooks_result *r)
{
	size_t i, n = 0;

	for (i = 0; r != NULL && i < r->n; i++)
		n += run_failed(&r->v[i]);
	return n;
}

long
hooks_result_first_failure(const struct hooks_result *r)
{
	size_t i;

	for (i = 0; r != NULL && i < r->n; i++)
		if (run_failed(&r->v[i]))
			return (long)i;
	return -1;
}

const char *
hooks_result_name(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL ? h->name : NULL;
}

bool
hooks_result_ran(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL && h->ran;
}

bool
hooks_result_is_failure(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL && run_failed(h);
}

int
hooks_result_exit_status(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	if (h == NULL || !h->ran)
		return -1;
	if (h->exec_errno != 0)
		return 127;
	return WIFEXITED(h->status) ? WEXITSTATUS(h->status) : -1;
}

int
hooks_result_signal(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	if (h == NULL || !h->ran || h->exec_errno != 0)
		return 0;
	return WIFSIGNALED(h->status) ? WTERMSIG(h->status) : 0;
}

bool
hooks_result_timed_out(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL && h->timed_out;
}

long
hooks_result_duration_ms(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL ? h->duration_ms : 0;
}

static const char *
capture_get(const struct capture *c, size_t *len)
{
	if (len != NULL)
		*len = c->buf != NULL ? c->len : 0;
	return c->buf != NULL ? c->buf : "";
}

const char *
hooks_result_stdout(const struct hooks_result *r, size_t i, size_t *len)
{
	const struct hook_run *h = at(r, i);

	if (h == NULL) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	return capture_get(&h->out, len);
}

const char *
hooks_result_stderr(const struct hooks_result *r, size_t i, size_t *len)
{
	const struct hook_run *h = at(r, i);

	if (h == NULL) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	return capture_get(&h->err, len);
}

bool
hooks_result_stdout_truncated(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL && h->out.is_truncated;
}

bool
hooks_result_stderr_truncated(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL && h->err.is_truncated;
}

const char *
hooks_result_describe(const struct hooks_result *r, size_t i)
{
	const struct hook_run *h = at(r, i);

	return h != NULL ? h->describe : NULL;
}

void
hooks_result_free(struct hooks_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].out.buf);
		free(r->v[i].err.buf);
		free(r->v[i].describe);
	}
	free(r->v);
	free(r->phase);
	free(r);
}
